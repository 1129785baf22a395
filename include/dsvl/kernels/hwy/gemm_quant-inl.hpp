// The register tiles of the int8 GEMM over quantized weights (q8<G>, q4<G>; core/quant.hpp) on x86,
// for the shared packed driver (gemm_packed.hpp).
//
// a is rounded to int8 codes with one f32 scale per group of G, as the quantized GEMV rounds x
// (QuantizeX, ggml's q8_0 activations): d_a = max|a| / 127. Within a group the products of codes
// are summed exactly in int32; one f32 multiply-add per group applies d_a d_w:
//   c[i, j] = sum_g d_a[i, g] d_w[j, g] sum_{k in g} q_a[i, k] q_w[j, k]
// GemmTileInt8 multiplies the codes as bytes: on AVX512-VNNI four products at a time into int32
// (vpdpbusd), on AVX2 q4's two at a time into int16 (pmaddubsw). GemmTileInt16 widens the codes to
// int16 when packing and sums two products at a time (pmaddwd): q8 on AVX2 and on AVX-512
// without VNNI, both formats on SSE4. GemmTileQuant<F> is the one a format takes on the target.
#if defined(DSVL_KERNELS_HWY_GEMM_QUANT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_GEMM_QUANT_INL_H_
#undef DSVL_KERNELS_HWY_GEMM_QUANT_INL_H_
#else
#define DSVL_KERNELS_HWY_GEMM_QUANT_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "dsvl/core/quant.hpp"
#include "dsvl/kernels/hwy/gemm-inl.hpp"
#include "dsvl/kernels/hwy/gemv_quant-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

#ifdef DSVL_HWY_GEMV_QUANT
#define DSVL_HWY_GEMM_INT8 1

template <QuantFormat F>
constexpr bool kInt8GemmFormat = F::group_size % 32 == 0 && (F::bits == 8 || F::group_size == 32);

// A q4<32> group's 32 codes (byte j: code j + 8 low, code j + 16 + 8 high) unpacked into
// `unpacked` (16-byte aligned); returns their sum, by psadbw.
HWY_INLINE int UnpackQ4(const std::uint8_t* group, std::int8_t* unpacked) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(group));
  const __m128i low = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
  const __m128i lo = _mm_and_si128(bytes, low), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low);
  _mm_store_si128(reinterpret_cast<__m128i*>(unpacked), _mm_sub_epi8(lo, eight));
  _mm_store_si128(reinterpret_cast<__m128i*>(unpacked + 16), _mm_sub_epi8(hi, eight));
  const __m128i sad = _mm_add_epi64(_mm_sad_epu8(lo, _mm_setzero_si128()), _mm_sad_epu8(hi, _mm_setzero_si128()));
  return _mm_cvtsi128_si32(_mm_add_epi64(sad, _mm_unpackhi_epi64(sad, sad))) - 8 * 32;
}

// acc + d_a d_w sums: one group's exact integer sums of a row of a tile, scaled by the row's d_a
// and the columns' d_w. The scales' product is off the path from the sums to acc: one dependent
// FMA per group.
template <class D, class VI>
HWY_INLINE hn::Vec<D> AddScaledGroup(D d, hn::Vec<D> acc, float da, hn::Vec<D> dw, VI sums) {
  return hn::MulAdd(hn::Mul(hn::Set(d, da), dw), hn::ConvertTo(d, sums), acc);
}

// pmaddwd multiplies signed int16 pairs on both sides, so neither panel needs a bias term (the
// u8 x s8 products of pmaddubsw would saturate their i16 pair sums at q8). A panel of mr rows (w:
// nr columns) over `groups` groups holds groups G / 2 steps of mr (nr) 32-bit pairs of codes,
// k-major as the f32 panels, then groups x mr (nr) f32 scales: 2 G + 4 bytes per row (column)
// and group, one panel_t. A pmaddwd does twice the multiply-adds of an FMA at the same rate.
template <QuantFormat F>
struct GemmTileInt16 {
  static constexpr int G = F::group_size;
  static_assert(kInt8GemmFormat<F>, "the int8 GEMM needs G = 32 (q4) or 32k (q8)");
  struct alignas(4) panel_t {
    std::uint8_t bytes[2 * G + 4];
  };
  using D = hn::ScalableTag<float>;
  using DI = hn::RebindToSigned<D>;
  using DI16 = hn::Repartition<std::int16_t, DI>;
  static constexpr std::int64_t V = static_cast<std::int64_t>(hn::MaxLanes(D()));
  static constexpr std::int64_t kpack = G, kc_block = 512 / G * G, kPrefetchRows = 2;
  // 2 mr int32 and 2 mr f32 accumulators, two w vectors, a broadcast of a and a product: 28 of 32
  // registers (AVX-512), 12 of 16 (AVX2, SSE4). With 16, mr = 3 leaves no register for w, which
  // GCC then loads again for each row: 9 loads per 6 products, 5-8% slower on Zen 3.
  static constexpr std::int64_t mr = V >= 16 ? 6 : 2, nr = 2 * V;

  static void pack_a(const float* a, std::int64_t lda, std::int64_t m, std::int64_t kc, panel_t* dst) {
    const std::int64_t groups = (kc + G - 1) / G, pairs = groups * G / 2;
    thread_local std::vector<std::int8_t> codes;
    thread_local std::vector<std::int32_t> rows;
    thread_local std::vector<float> scale;
    codes.resize(static_cast<std::size_t>(groups * G));
    rows.resize(static_cast<std::size_t>(m * pairs));
    scale.resize(static_cast<std::size_t>(m * groups));
    for (std::int64_t i = 0; i < m; ++i) {
      QuantizeX<G>(a + i * lda, kc, codes.data(), scale.data() + i * groups, nullptr);
      for (std::int64_t g = 0; g < groups; ++g) Widen(codes.data() + g * G, rows.data() + i * pairs + g * G / 2);
    }
    PackPanels<mr>(rows.data(), scale.data(), m, groups, dst);
  }

  static void pack_w(QuantView<F> w, std::int64_t n0, std::int64_t n, std::int64_t k0, std::int64_t kc,
                     panel_t* dst) {
    const std::int64_t g0 = k0 / G, groups = (kc + G - 1) / G, pairs = groups * G / 2;
    thread_local std::vector<std::int32_t> rows;
    thread_local std::vector<float> scale;
    rows.resize(static_cast<std::size_t>(n * pairs));
    scale.resize(static_cast<std::size_t>(n * groups));
    alignas(32) std::int8_t unpacked[G];
    const std::int64_t first = g0 * quant::group_bytes<F>(), bytes = groups * quant::group_bytes<F>();
    for (std::int64_t j = 0; j < n; ++j) {
      const std::uint8_t* codes = w.codes(n0 + j) + first;
      // Each row's codes are a stream too short for the hardware prefetcher: fetch rows ahead.
      if (j + kPrefetchRows < n)
        for (std::int64_t t = 0; t < bytes; t += 64) __builtin_prefetch(w.codes(n0 + j + kPrefetchRows) + first + t);
      for (std::int64_t g = 0; g < groups; ++g) {
        Widen(Codes(codes + g * quant::group_bytes<F>(), unpacked), rows.data() + j * pairs + g * G / 2);
        scale[static_cast<std::size_t>(j * groups + g)] = w.scales(n0 + j)[g0 + g].to_float();
      }
    }
    PackPanels<nr>(rows.data(), scale.data(), n, groups, dst);
  }

  static void tile(std::int64_t kc, const panel_t* ap, const panel_t* wp, const float* bias, float* c,
                   std::int64_t ldc, bool accumulate) {
    TileRows(kc / G, reinterpret_cast<const std::int32_t*>(ap), reinterpret_cast<const std::int32_t*>(wp), bias, c,
             ldc, accumulate, std::make_integer_sequence<std::int64_t, mr>{});
  }

 private:
  // The G int8 codes of a group: q8's bytes as stored, q4's unpacked into `unpacked`.
  static HWY_INLINE const std::int8_t* Codes(const std::uint8_t* group, std::int8_t* unpacked) {
    if constexpr (F::bits == 8) return reinterpret_cast<const std::int8_t*>(group);
    UnpackQ4(group, unpacked);
    return unpacked;
  }

  // G int8 codes as G / 2 pairs of int16 (the first in the lower half).
  static HWY_INLINE void Widen(const std::int8_t* codes, std::int32_t* pairs) {
    const hn::Full128<std::int16_t> d16;
    const hn::Rebind<std::int8_t, decltype(d16)> d8;
    auto* out = reinterpret_cast<std::int16_t*>(pairs);  // written through Highway's stores only
    for (int t = 0; t < G; t += 8) hn::StoreU(hn::PromoteTo(d16, hn::LoadU(d8, codes + t)), d16, out + t);
  }

  // Panels of R rows (columns) from `n` rows of `groups` G / 2 code pairs and `groups` scales each;
  // rows past n are zero.
  template <std::int64_t R>
  static void PackPanels(const std::int32_t* rows, const float* scale, std::int64_t n, std::int64_t groups,
                         panel_t* dst) {
    const std::int64_t pairs = groups * G / 2;
    for (std::int64_t p0 = 0; p0 < n; p0 += R, dst += R * groups) {
      auto* q = reinterpret_cast<std::int32_t*>(dst);
      detail::pack_w_block<R>(rows + p0 * pairs, pairs, std::min(R, n - p0), pairs, q);
      auto* d = reinterpret_cast<float*>(q + pairs * R);
      for (std::int64_t g = 0; g < groups; ++g)
        for (std::int64_t r = 0; r < R; ++r) d[g * R + r] = p0 + r < n ? scale[(p0 + r) * groups + g] : 0.0f;
    }
  }

  template <std::int64_t... I>
  static HWY_INLINE void TileRows(std::int64_t groups, const std::int32_t* HWY_RESTRICT qa,
                                  const std::int32_t* HWY_RESTRICT qw, const float* bias, float* c, std::int64_t ldc,
                                  bool accumulate, std::integer_sequence<std::int64_t, I...>) {
    const D d;
    const DI di;
    const DI16 di16;
    const auto* da = reinterpret_cast<const float*>(qa + groups * G / 2 * mr);
    const auto* dw = reinterpret_cast<const float*>(qw + groups * G / 2 * nr);
    hn::Vec<D> lo[mr], hi[mr];
    ((lo[I] = hn::Zero(d), hi[I] = hn::Zero(d)), ...);
    for (std::int64_t g = 0; g < groups; ++g, da += mr, dw += nr) {
      hn::Vec<DI> ilo[mr], ihi[mr];
      ((ilo[I] = hn::Zero(di), ihi[I] = hn::Zero(di)), ...);
      for (std::int64_t s = 0; s < G / 2; ++s, qa += mr, qw += nr) {
        const auto w0 = hn::BitCast(di16, hn::Load(di, qw)), w1 = hn::BitCast(di16, hn::Load(di, qw + V));
        ((ilo[I] = AddPairProducts(di, ilo[I], hn::BitCast(di16, hn::Set(di, qa[I])), w0),
          ihi[I] = AddPairProducts(di, ihi[I], hn::BitCast(di16, hn::Set(di, qa[I])), w1)),
         ...);
      }
      const auto d0 = hn::Load(d, dw), d1 = hn::Load(d, dw + V);
      ((lo[I] = AddScaledGroup(d, lo[I], da[I], d0, ilo[I]), hi[I] = AddScaledGroup(d, hi[I], da[I], d1, ihi[I])),
       ...);
    }
    StoreTile(d, lo, hi, bias, c, ldc, accumulate, std::integer_sequence<std::int64_t, I...>{});
  }

  // sum + a[2i] b[2i] + a[2i + 1] b[2i + 1] in each lane i: pmaddwd and an add, in sum's register.
  // Written as intrinsics (or Highway's ReorderWidenMulAccumulate), GCC 12 adds each product into a
  // new register and moves it back: a register move per product in the k loop.
  static HWY_INLINE hn::Vec<DI> AddPairProducts(DI di, hn::Vec<DI> sum, hn::Vec<DI16> a, hn::Vec<DI16> b) {
#if HWY_TARGET <= HWY_AVX2
    (void)di;
    decltype(sum.raw) product;
    asm("vpmaddwd %3, %2, %1\n\tvpaddd %1, %0, %0" : "+v"(sum.raw), "=&v"(product) : "v"(a.raw), "v"(b.raw));
    return sum;
#else
    hn::Vec<DI> unused = hn::Zero(di);  // x86's ReorderWidenMulAccumulate keeps the pairs in their lanes
    return hn::ReorderWidenMulAccumulate(di, a, b, sum, unused);
#endif
  }
};

// Byte products summed in the lanes of a register, by the target's instructions: u unsigned and
// s signed bytes, four consecutive k (one 32-bit quad) per lane and operand. Init(sum) is the
// starting value of a column's lane, -128 sum, with sum the column's codes' sum over the group.
#if HWY_TARGET <= HWY_AVX3 && defined(__AVX512VNNI__)
// vpdpbusd: the four products of a quad into its int32 lane, with no bound on the group.
struct DotBytesVNNI {
  using Reg = __m512i;
  static constexpr std::int64_t lanes = 16, mr = 6;  // 12 int32 and 12 f32 accumulators
  template <QuantFormat F>
  static constexpr bool kFormat = kInt8GemmFormat<F>;
  static std::uint32_t Init(int sum) { return static_cast<std::uint32_t>(-128 * sum); }
  static HWY_INLINE Reg Load(const std::byte* p) { return _mm512_load_si512(p); }
  static HWY_INLINE Reg Broadcast(std::uint32_t quad) { return _mm512_set1_epi32(static_cast<int>(quad)); }
  // In acc's register: with the intrinsic, GCC 12 moves the accumulators of a tile to new
  // registers and back around each product of the k loop (two register moves per vpdpbusd).
  static HWY_INLINE Reg Add(Reg acc, Reg u, Reg s) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
    return acc;
  }
  static HWY_INLINE Reg Sums(Reg acc) { return acc; }
};
using DotBytes = DotBytesVNNI;
#elif HWY_TARGET <= HWY_AVX2
// pmaddubsw: pairs of products into int16 lanes, added by paddw; once per group, pmaddwd against
// ones sums each quad's two pairs into its int32 lane. The low half of a lane starts at -128 sum
// (mod 2^16; paddw wraps), the high half at 0. With q4's codes (|q_w| <= 8) both end in int16's
// range, so the wrapped sums are exact: the low half at sum (u - 128) q_w over its 16 k minus
// 128 sum q_w over the high half's, at most 16 x 127 x 8 + 128 x 16 x 8 = 32640; the high half
// at sum u q_w, at most 16 x 255 x 8 = 32640; a pair (2 x 255 x 8) never saturates. q8's codes
// reach 127: they take the int16 tile.
struct DotBytesAVX2 {
  using Reg = __m256i;
  static constexpr std::int64_t lanes = 8, mr = 2;  // as GemmTileInt16, for the same 16 registers
  template <QuantFormat F>
  static constexpr bool kFormat = F::bits == 4 && F::group_size == 32;
  static std::uint32_t Init(int sum) { return static_cast<std::uint16_t>(-128 * sum); }
  static HWY_INLINE Reg Load(const std::byte* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
  static HWY_INLINE Reg Broadcast(std::uint32_t quad) { return _mm256_set1_epi32(static_cast<int>(quad)); }
  // In acc's register, as DotBytesVNNI::Add.
  static HWY_INLINE Reg Add(Reg acc, Reg u, Reg s) {
    Reg pairs;
    asm("vpmaddubsw %3, %2, %1\n\tvpaddw %1, %0, %0" : "+v"(acc), "=&v"(pairs) : "v"(u), "v"(s));
    return acc;
  }
  static HWY_INLINE Reg Sums(Reg acc) { return _mm256_madd_epi16(acc, _mm256_set1_epi16(1)); }
};
using DotBytes = DotBytesAVX2;
#endif

#if HWY_TARGET <= HWY_AVX2
// The byte products take one operand unsigned: the a codes are packed biased, u = q_a + 128, and
// the integer sums of each group start at DotBytes::Init, which takes the bias 128 sum_k q_w[j, k]
// off again. (The bias as an f32 term of the epilogue put a second dependent FMA on each
// accumulator's path: the tile ran 8% slower on Zen 3.)
//
// Panels hold whole groups. A group of a panel of mr rows (w: nr columns) is G / 4 steps of mr
// (nr) 32-bit quads of codes, k-major as the f32 panels, then mr (nr) f32 scales d_a (d_w), then
// mr zeros (nr Init words): G + 8 bytes per row (column) and group, one panel_t.
template <QuantFormat F>
struct GemmTileInt8 {
  static constexpr int G = F::group_size;
  static_assert(DotBytes::kFormat<F>, "the target's byte products cannot take this format");
  static constexpr std::int64_t Q = G / 4;  // code quads per group
  struct alignas(4) panel_t {
    std::uint8_t bytes[G + 8];
  };
  static constexpr std::int64_t kpack = G, kc_block = 512 / G * G;
  static constexpr std::int64_t mr = DotBytes::mr, nr = 2 * DotBytes::lanes;

  static void pack_a(const float* a, std::int64_t lda, std::int64_t m, std::int64_t kc, panel_t* dst) {
    const std::int64_t groups = (kc + G - 1) / G;
    thread_local std::vector<std::int8_t> codes;
    thread_local std::vector<float> scale;
    codes.resize(static_cast<std::size_t>(m * groups * G));
    scale.resize(static_cast<std::size_t>(m * groups));
    for (std::int64_t i = 0; i < m; ++i)
      QuantizeX<G>(a + i * lda, kc, codes.data() + i * groups * G, scale.data() + i * groups, nullptr);
    auto* out = reinterpret_cast<std::byte*>(dst);
    for (std::int64_t p0 = 0; p0 < m; p0 += mr) {
      for (std::int64_t g = 0; g < groups; ++g, out += mr * (G + 8)) {
        auto* q = reinterpret_cast<std::uint32_t*>(out);
        auto* d = reinterpret_cast<float*>(out + Q * mr * 4);
        for (std::int64_t r = 0; r < mr; ++r) {
          const std::int64_t i = p0 + r;
          for (std::int64_t s = 0; s < Q; ++s) {
            std::uint32_t quad = 0;
            if (i < m) std::memcpy(&quad, codes.data() + (i * groups + g) * G + 4 * s, 4);
            q[s * mr + r] = quad ^ 0x80808080u;  // q + 128 in each byte
          }
          d[r] = i < m ? scale[static_cast<std::size_t>(i * groups + g)] : 0.0f;
          d[mr + r] = 0.0f;
        }
      }
    }
  }

  static void pack_w(QuantView<F> w, std::int64_t n0, std::int64_t n, std::int64_t k0, std::int64_t kc,
                     panel_t* dst) {
    const std::int64_t g0 = k0 / G, groups = (kc + G - 1) / G;
    alignas(32) std::int8_t unpacked[G];
    auto* out = reinterpret_cast<std::byte*>(dst);
    for (std::int64_t p0 = 0; p0 < n; p0 += nr) {
      for (std::int64_t g = 0; g < groups; ++g, out += nr * (G + 8)) {
        auto* q = reinterpret_cast<std::uint32_t*>(out);
        auto* d = reinterpret_cast<float*>(out + Q * nr * 4);
        auto* init = reinterpret_cast<std::uint32_t*>(d + nr);
        for (std::int64_t j = 0; j < nr; ++j) {
          if (p0 + j >= n) {
            for (std::int64_t s = 0; s < Q; ++s) q[s * nr + j] = 0;
            d[j] = 0.0f;
            init[j] = 0;
            continue;
          }
          const std::int64_t row = n0 + p0 + j;
          int sum;
          const std::int8_t* code = Codes(w.codes(row) + (g0 + g) * quant::group_bytes<F>(), unpacked, sum);
          for (std::int64_t s = 0; s < Q; ++s) std::memcpy(q + s * nr + j, code + 4 * s, 4);
          d[j] = w.scales(row)[g0 + g].to_float();
          init[j] = DotBytes::Init(sum);
        }
      }
    }
  }

  static void tile(std::int64_t kc, const panel_t* ap, const panel_t* wp, const float* bias, float* c,
                   std::int64_t ldc, bool accumulate) {
    TileRows(kc / G, reinterpret_cast<const std::byte*>(ap), reinterpret_cast<const std::byte*>(wp), bias, c, ldc,
             accumulate, std::make_integer_sequence<std::int64_t, mr>{});
  }

 private:
  template <std::int64_t... I>
  static HWY_INLINE void TileRows(std::int64_t groups, const std::byte* HWY_RESTRICT ap,
                                  const std::byte* HWY_RESTRICT wp, const float* bias, float* c, std::int64_t ldc,
                                  bool accumulate, std::integer_sequence<std::int64_t, I...>) {
    constexpr std::int64_t V = DotBytes::lanes;
    const hn::FixedTag<float, V> d;
    const hn::FixedTag<std::int32_t, V> di;
    hn::Vec<decltype(d)> lo[mr], hi[mr];
    ((lo[I] = hn::Zero(d), hi[I] = hn::Zero(d)), ...);
    for (std::int64_t g = 0; g < groups; ++g, ap += mr * (G + 8), wp += nr * (G + 8)) {
      const std::byte* init = wp + Q * nr * 4 + nr * 4;
      const auto init0 = DotBytes::Load(init), init1 = DotBytes::Load(init + V * 4);
      typename DotBytes::Reg ilo[mr], ihi[mr];
      ((ilo[I] = init0, ihi[I] = init1), ...);
      const auto* qa = reinterpret_cast<const std::uint32_t*>(ap);
      for (std::int64_t s = 0; s < Q; ++s, qa += mr) {
        const auto w0 = DotBytes::Load(wp + s * nr * 4), w1 = DotBytes::Load(wp + s * nr * 4 + V * 4);
        ((ilo[I] = DotBytes::Add(ilo[I], DotBytes::Broadcast(qa[I]), w0),
          ihi[I] = DotBytes::Add(ihi[I], DotBytes::Broadcast(qa[I]), w1)),
         ...);
      }
      const auto* da = reinterpret_cast<const float*>(ap + Q * mr * 4);
      const auto* dw = reinterpret_cast<const float*>(wp + Q * nr * 4);
      const auto d0 = hn::Load(d, dw), d1 = hn::Load(d, dw + V);
      ((lo[I] = AddScaledGroup(d, lo[I], da[I], d0, hn::Vec<decltype(di)>{DotBytes::Sums(ilo[I])}),
        hi[I] = AddScaledGroup(d, hi[I], da[I], d1, hn::Vec<decltype(di)>{DotBytes::Sums(ihi[I])})),
       ...);
    }
    StoreTile(d, lo, hi, bias, c, ldc, accumulate, std::integer_sequence<std::int64_t, I...>{});
  }

  // The G int8 codes of a group and their sum: q8's bytes as stored, summed by vpdpbusd against
  // ones; q4's unpacked into `unpacked` (UnpackQ4).
  static HWY_INLINE const std::int8_t* Codes(const std::uint8_t* group, std::int8_t* unpacked, int& sum) {
    if constexpr (F::bits == 8) {
      __m256i acc = _mm256_setzero_si256();
      for (int t = 0; t < G; t += 32)
        acc = _mm256_dpbusd_epi32(acc, _mm256_set1_epi8(1),
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + t)));
      const __m128i half = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
      const __m128i quarter = _mm_add_epi32(half, _mm_unpackhi_epi64(half, half));
      sum = _mm_cvtsi128_si32(_mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, 1)));
      return reinterpret_cast<const std::int8_t*>(group);
    } else {
      sum = UnpackQ4(group, unpacked);
      return unpacked;
    }
  }
};

// The tile of a format on this target: byte products where the target's can take the format, else
// int16 pairs.
template <QuantFormat F>
using GemmTileQuant = std::conditional_t<DotBytes::kFormat<F>, GemmTileInt8<F>, GemmTileInt16<F>>;
#else
template <QuantFormat F>
using GemmTileQuant = GemmTileInt16<F>;
#endif  // HWY_TARGET <= HWY_AVX2

#endif  // DSVL_HWY_GEMV_QUANT

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
