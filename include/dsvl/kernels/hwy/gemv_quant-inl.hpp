// The Highway GEMV over quantized weights (q8<G>, q4<G>; core/quant.hpp), x86 only.
//
// x is rounded once per call to int8 codes with one f32 scale per group of G (as ggml's q8_0
// activations): d_x = max|x| / 127. A group's dot product of weight codes and x codes is then
// exact in int32, from byte products summed by pmaddubsw (u8 x s8 -> pairs in i16) and pmaddwd
// (-> quads in i32), or by vpdpbusd in one step on AVX512-VNNI (no pair in i16 saturates: the
// results are the same); the f32 accumulators take d_w d_x times it, one multiply-add per group:
//   q8: pmaddubsw needs an unsigned operand: |w| times x with w's sign (psignb), exact since
//       2 * 127 * 127 < 2^15.
//   q4: the nibbles u = q + 8 (0..15) are the unsigned operand; sum_j q_j x_j = sum_j u_j x_j -
//       8 sum_j x_j, and the second term, d_w d_x 8 sum_j x_j, is taken off once per row.
// One row at a time: streaming a single row's codes and scales read DRAM 1.8-2x faster than four
// rows at once (measured on Zen 3, docs/benchmarks.md), though four rows share each load of x and
// run ~15% faster with w in cache. A group is one 256-bit register (AVX2, AVX3) or two 128-bit ones
// (SSE4). q4 takes two groups per step on AVX2 and AVX3 (DotGroupPair), from one load of their
// codes, which x's order (XOrder::paired) matches: on Zen 3 a group at a time had kept one core's
// stream from DRAM at about 70% of the read bandwidth, by the arithmetic (docs/benchmarks.md). G
// must be a multiple of 32.
#if defined(DSVL_KERNELS_HWY_GEMV_QUANT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_GEMV_QUANT_INL_H_
#undef DSVL_KERNELS_HWY_GEMV_QUANT_INL_H_
#else
#define DSVL_KERNELS_HWY_GEMV_QUANT_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "dsvl/core/quant.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSE4
#define DSVL_HWY_GEMV_QUANT 1

// x rounded to int8 per group of G; the last group padded with zeros.
struct QuantizedX {
  const std::int8_t* codes;
  const float* scale;    // d_x per group
  const float* offset;   // q4: 8 d_x sum_j x_j per group
};

// The order of x's codes in a QuantizedX. plain: code j of group g at g G + j. paired (the q4 GEMV,
// G = 32): the groups in pairs, a pair's 64 codes as [g 0-15, g+1 0-15, g 16-31, g+1 16-31], the
// order of the low then the high nibbles of the pair's 32 weight bytes, so that one load of the
// bytes serves two groups; an odd count's last pair leaves the second group's places unused.
enum class XOrder { plain, paired };

// Where group g's first code is.
template <int G, XOrder order>
constexpr std::int64_t XGroupOffset(std::int64_t g) {
  return order == XOrder::plain ? g * G : g / 2 * 64 + g % 2 * 16;
}

// Fills a QuantizedX's arrays from x; offset may be null (the int8 GEMM, which does not use it).
// paired: codes holds whole pairs.
template <int G, XOrder order = XOrder::plain>
void QuantizeX(const float* x, std::int64_t K, std::int8_t* codes, float* scale, float* offset) {
  static_assert(order == XOrder::plain || G == 32);
  const hn::CappedTag<float, 8> df;
  const hn::Rebind<std::int32_t, decltype(df)> di;
  const hn::Rebind<std::int8_t, decltype(df)> d8;
  const std::int64_t V = static_cast<std::int64_t>(hn::Lanes(df));
  const std::int64_t groups = (K + G - 1) / G;
  alignas(32) float last[G];
  for (std::int64_t g = 0; g < groups; ++g) {
    const float* xg = x + g * G;
    if (K - g * G < G) {  // the padded last group
      std::fill_n(last, G, 0.0f);
      std::copy(xg, x + K, last);
      xg = last;
    }
    auto m = hn::Zero(df);
    for (std::int64_t j = 0; j < G; j += V) m = hn::Max(m, hn::Abs(hn::LoadU(df, xg + j)));
    const float amax = hn::GetLane(hn::MaxOfLanes(df, m));
    const auto inv = hn::Set(df, amax > 0.0f ? 127.0f / amax : 0.0f);
    auto sum = hn::Zero(di);
    for (std::int64_t j = 0; j < G; j += V) {
      const auto q = hn::NearestInt(hn::Mul(hn::LoadU(df, xg + j), inv));
      sum = hn::Add(sum, q);
      const std::int64_t at = XGroupOffset<G, order>(g) + (order == XOrder::plain ? j : j / 16 * 32 + j % 16);
      hn::StoreU(hn::DemoteTo(d8, q), d8, codes + at);
    }
    scale[g] = amax / 127.0f;
    if (offset != nullptr) offset[g] = 8.0f * scale[g] * static_cast<float>(hn::GetLane(hn::SumOfLanes(di, sum)));
  }
}

#if HWY_TARGET <= HWY_AVX2
using DI32 = hn::CappedTag<std::int32_t, 8>;  // one group of 32 codes: 256 bits
HWY_INLINE __m256i MaddQuads(__m256i u, __m256i s) {
#if HWY_TARGET <= HWY_AVX3 && defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);  // vpdpbusd: the same sums in one step
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}
// sum over 32 codes of a q8 row and x, in 8 i32 lanes.
HWY_INLINE hn::Vec<DI32> DotGroup32(q8<32>, const std::uint8_t* w, const std::int8_t* x) {
  const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x));
  return hn::Vec<DI32>{MaddQuads(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv))};
}
// sum over 32 nibbles (16 bytes) of a q4 row, as u = q + 8, and x in paired order (XOrder).
HWY_INLINE hn::Vec<DI32> DotGroup32(q4<32>, const std::uint8_t* w, const std::int8_t* x) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
  const __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0f));
  return hn::Vec<DI32>{MaddQuads(u, _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(x + 32),
                                                        reinterpret_cast<const __m128i*>(x)))};
}
#else
using DI32 = hn::CappedTag<std::int32_t, 4>;  // SSE4: a group of 32 codes is two registers
HWY_INLINE __m128i MaddQuads(__m128i u, __m128i s) {
  return _mm_madd_epi16(_mm_maddubs_epi16(u, s), _mm_set1_epi16(1));
}
HWY_INLINE hn::Vec<DI32> DotGroup32(q8<32>, const std::uint8_t* w, const std::int8_t* x) {
  const __m128i w0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
  const __m128i w1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 16));
  const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
  const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 16));
  return hn::Vec<DI32>{_mm_add_epi32(MaddQuads(_mm_sign_epi8(w0, w0), _mm_sign_epi8(x0, w0)),
                                     MaddQuads(_mm_sign_epi8(w1, w1), _mm_sign_epi8(x1, w1)))};
}
HWY_INLINE hn::Vec<DI32> DotGroup32(q4<32>, const std::uint8_t* w, const std::int8_t* x) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
  const __m128i m = _mm_set1_epi8(0x0f);
  const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x));
  const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 32));  // paired order (XOrder)
  return hn::Vec<DI32>{_mm_add_epi32(MaddQuads(_mm_and_si128(b, m), x0),
                                     MaddQuads(_mm_and_si128(_mm_srli_epi16(b, 4), m), x1))};
}
#endif

// A group of G codes as G / 32 groups of 32: the q4 nibble pairing (j, j + G/2) splits the same
// way only when G = 32, so q4 needs G = 32.
template <int G>
HWY_INLINE hn::Vec<DI32> DotGroup(q8<G>, const std::uint8_t* w, const std::int8_t* x) {
  auto acc = DotGroup32(q8<32>{}, w, x);
  for (int j = 32; j < G; j += 32) acc = hn::Add(acc, DotGroup32(q8<32>{}, w + j, x + j));
  return acc;
}
HWY_INLINE hn::Vec<DI32> DotGroup(q4<32>, const std::uint8_t* w, const std::int8_t* x) {
  return DotGroup32(q4<32>{}, w, x);
}

// q4, groups g and g + 1 in one step: their 32 code bytes' low then high nibbles against x's pair
// (XOrder::paired); lanes 0-3 of each 8 of the result sum group g, lanes 4-7 group g + 1. The
// pair's scales, from the block's 8 in s, lane for lane.
#if HWY_TARGET <= HWY_AVX3
using DPair = hn::CappedTag<std::int32_t, 16>;
HWY_INLINE hn::Vec<DPair> DotGroupPair(q4<32>, const std::uint8_t* w, const std::int8_t* x) {
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(b), _mm256_srli_epi16(b, 4), 1);
  const __m512i u = _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
  const __m512i xv = _mm512_loadu_si512(x);
#if defined(__AVX512VNNI__)
  return hn::Vec<DPair>{_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, xv)};
#else
  return hn::Vec<DPair>{_mm512_madd_epi16(_mm512_maddubs_epi16(u, xv), _mm512_set1_epi16(1))};
#endif
}
HWY_INLINE hn::Vec<hn::Rebind<float, DPair>> PairScales(const float* s, int c) {
  const int j = 2 * c, k = j + 1;
  const __m512i lanes = _mm512_set_epi32(k, k, k, k, j, j, j, j, k, k, k, k, j, j, j, j);
  return {_mm512_permutexvar_ps(lanes, _mm512_castps256_ps512(_mm256_load_ps(s)))};
}
#elif HWY_TARGET <= HWY_AVX2
// The low and the high nibbles' pair sums are added in i16 (each under 2 * 15 * 128) before
// pmaddwd: one multiply fewer per group.
using DPair = DI32;
HWY_INLINE hn::Vec<DPair> DotGroupPair(q4<32>, const std::uint8_t* w, const std::int8_t* x) {
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  const __m256i m = _mm256_set1_epi8(0x0f);
  const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(b, m), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
  const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(b, 4), m),
                                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32)));
  return hn::Vec<DPair>{_mm256_madd_epi16(_mm256_add_epi16(lo, hi), _mm256_set1_epi16(1))};
}
HWY_INLINE hn::Vec<hn::Rebind<float, DPair>> PairScales(const float* s, int c) {
  const int j = 2 * c, k = j + 1;
  return {_mm256_permutevar8x32_ps(_mm256_load_ps(s), _mm256_set_epi32(k, k, k, k, j, j, j, j))};
}
#endif

// GCC 12 warns that the AVX-512 intrinsics' undefined upper halves are used uninitialized when
// they are inlined here (as Highway's own x86_512-inl.h does, the warnings are off for them).
HWY_DIAGNOSTICS(push)
HWY_DIAGNOSTICS_OFF(disable : 4701, ignored "-Wuninitialized")
#if HWY_COMPILER_GCC_ACTUAL  // clang has no -Wmaybe-uninitialized
HWY_DIAGNOSTICS_OFF(disable : 4703 6001 26494, ignored "-Wmaybe-uninitialized")
#endif

template <class F>
struct GemvQuantRows {
  static constexpr int rows = 1;
  static constexpr int G = F::group_size;
  static_assert(G % 32 == 0 && (F::bits == 8 || G == 32), "the x86 quantized GEMV needs G = 32 (q4) or 32k (q8)");
  static constexpr XOrder x_order = F::bits == 4 ? XOrder::paired : XOrder::plain;

  // out[r] = sum_g d_w[r, g] (d_x[g] dot_g - offset[g]) for rows n..n+R of w (offset: q4 only).
  template <int R>
  static void dot(const QuantizedX& x, QuantView<F> w, std::int64_t n, float* out) {
    DotRows(x, w, n, out, std::make_integer_sequence<int, R>{});
  }

 private:
  using DF = hn::Rebind<float, DI32>;
  static constexpr std::int64_t kBlock = 8;  // groups whose scales are widened together
  // Codes are prefetched this far ahead of the loads: on an Emerald Rapids core the hardware
  // prefetcher alone kept this row-at-a-time stream at 9.2 (q8) / 7.2 (q4) GB/s, 12.8 / 12.4 GB/s
  // with it (the LM-head GEMV, docs/benchmarks.md). A prefetch past the end of the matrix is harmless.
  static constexpr std::int64_t kPrefetchBytes = 4096;
  // Groups go round-robin to this many accumulators: with one, each group's multiply-add waits
  // for the previous one (4 cycles), which caps a q4 row at 16 bytes per 4 cycles, about the
  // bandwidth of one core.
  static constexpr int kChains = 4;
  static constexpr bool kPairs = F::bits == 4 && HWY_TARGET <= HWY_AVX2;  // two groups per step (DotGroupPair)
  static_assert(kBlock == 2 * kChains);

  // s[j] = d_w[j] d_x[j] for the nb <= kBlock groups at w_scales, x_scale; off += d_w[j] x_offset[j].
  static HWY_INLINE void BlockScales(const f16* w_scales, const float* x_scale, const float* x_offset, std::int64_t nb,
                                     float* s, hn::Vec<DF>& off) {
    const DF df;
    const hn::Rebind<hwy::float16_t, DF> dh;
    alignas(16) f16 tail[kBlock] = {};
    const f16* d = w_scales;
    if (nb < kBlock) {  // a short last block: through a zero-padded copy
      std::copy_n(w_scales, nb, tail);
      d = tail;
    }
    for (std::int64_t j = 0; j < kBlock; j += static_cast<std::int64_t>(hn::Lanes(df))) {
      const auto dw = hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(d + j)));
      hn::StoreU(hn::Mul(dw, hn::LoadU(df, x_scale + j)), df, s + j);
      if constexpr (F::bits == 4) off = hn::MulAdd(dw, hn::LoadU(df, x_offset + j), off);
    }
  }

  template <int... I>
  static HWY_INLINE void DotRows(const QuantizedX& x, QuantView<F> w, std::int64_t n, float* out,
                                 std::integer_sequence<int, I...>) {
    const DF df;
    constexpr int R = sizeof...(I);
    constexpr std::int64_t GB = quant::group_bytes<F>();
    const std::int64_t groups = w.groups();
    const std::uint8_t* codes[R] = {w.codes(n + I)...};
    const f16* scales[R] = {w.scales(n + I)...};
    hn::Vec<DF> acc[R][kChains], off[R];
    for (int c = 0; c < kChains; ++c) ((acc[I][c] = hn::Zero(df)), ...);
    ((off[I] = hn::Zero(df)), ...);
#if HWY_TARGET <= HWY_AVX2
    using DP = hn::Rebind<float, DPair>;
    const DP dp;
    hn::Vec<DP> pair_acc[R][kChains];
    for (int c = 0; c < kChains; ++c) ((pair_acc[I][c] = hn::Zero(dp)), ...);
#endif
    alignas(32) float s[R][kBlock];
    for (std::int64_t g0 = 0; g0 < groups; g0 += kBlock) {
      const std::int64_t nb = std::min(kBlock, groups - g0);
      for (std::int64_t off = 0; off < kBlock * GB; off += 64)
        (_mm_prefetch(reinterpret_cast<const char*>(codes[I] + g0 * GB + kPrefetchBytes + off), _MM_HINT_T0), ...);
      (BlockScales(scales[I] + g0, x.scale + g0, x.offset + g0, nb, s[I], off[I]), ...);
      std::int64_t j0 = 0;
#if HWY_TARGET <= HWY_AVX2
      if constexpr (kPairs) {  // pair c of the block: groups 2c and 2c + 1
        for (int c = 0; c < kChains; ++c) {
          const int j = 2 * c;
          if (j + 2 > nb) break;
          const std::int8_t* xg = x.codes + XGroupOffset<G, x_order>(g0 + j);
          ((pair_acc[I][c] = hn::MulAdd(hn::ConvertTo(dp, DotGroupPair(F{}, codes[I] + (g0 + j) * GB, xg)),
                                        PairScales(s[I], c), pair_acc[I][c])),
           ...);
        }
        j0 = nb & ~std::int64_t{1};
      }
#endif
      for (; j0 < nb; j0 += kChains)
        for (int c = 0; c < kChains; ++c) {
          const std::int64_t j = j0 + c;
          if (j >= nb) break;
          const std::int8_t* xg = x.codes + XGroupOffset<G, x_order>(g0 + j);
          ((acc[I][c] = hn::MulAdd(hn::ConvertTo(df, DotGroup(F{}, codes[I] + (g0 + j) * GB, xg)),
                                   hn::Set(df, s[I][j]), acc[I][c])),
           ...);
        }
    }
    for (int c = 1; c < kChains; ++c) ((acc[I][0] = hn::Add(acc[I][0], acc[I][c])), ...);
#if HWY_TARGET <= HWY_AVX2
    if constexpr (kPairs) {  // the pairs' sums, folded to DF's width, join the single groups'
      for (int c = 1; c < kChains; ++c) ((pair_acc[I][0] = hn::Add(pair_acc[I][0], pair_acc[I][c])), ...);
      if constexpr (hn::MaxLanes(DP{}) > hn::MaxLanes(DF{}))
        ((acc[I][0] = hn::Add(acc[I][0], hn::Add(hn::LowerHalf(df, pair_acc[I][0]), hn::UpperHalf(df, pair_acc[I][0])))), ...);
      else
        ((acc[I][0] = hn::Add(acc[I][0], pair_acc[I][0])), ...);
    }
#endif
    ((out[I] = SumLanes(df, acc[I][0]) - SumLanes(df, off[I])), ...);
  }
};

HWY_DIAGNOSTICS(pop)

#endif  // HWY_ARCH_X86 && HWY_TARGET <= HWY_SSE4

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
