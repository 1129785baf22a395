// The Highway register tiles of the shared packed GEMM driver (gemm_packed.hpp).
#if defined(DSVL_KERNELS_HWY_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_GEMM_INL_H_
#undef DSVL_KERNELS_HWY_GEMM_INL_H_
#else
#define DSVL_KERNELS_HWY_GEMM_INL_H_
#endif

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/gemm_packed.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

// Rows I of a tile of two vectors per row, lo and hi, stored to c: added to c when accumulating
// (a later block of k), else to the bias (none: nullptr). The end of every register tile.
template <class D, std::int64_t... I>
HWY_INLINE void StoreTile(D d, hn::Vec<D>* lo, hn::Vec<D>* hi, const float* bias, float* c, std::int64_t ldc,
                          bool accumulate, std::integer_sequence<std::int64_t, I...>) {
  const std::int64_t V = static_cast<std::int64_t>(hn::Lanes(d));
  if (accumulate) {
    ((lo[I] = hn::Add(lo[I], hn::LoadU(d, c + I * ldc)), hi[I] = hn::Add(hi[I], hn::LoadU(d, c + I * ldc + V))), ...);
  } else if (bias) {
    const auto b0 = hn::LoadU(d, bias), b1 = hn::LoadU(d, bias + V);
    ((lo[I] = hn::Add(lo[I], b0), hi[I] = hn::Add(hi[I], b1)), ...);
  }
  ((hn::StoreU(lo[I], d, c + I * ldc), hn::StoreU(hi[I], d, c + I * ldc + V)), ...);
}

// mr rows x 2 vectors of c in 2 mr accumulators; each k, one broadcast of a per row and two
// vector loads of w. 32 vector registers (AVX-512) hold a 12 x 2 tile, 16 a 6 x 2 tile.
struct GemmTile {
  using D = hn::ScalableTag<float>;
  static constexpr std::int64_t V = static_cast<std::int64_t>(hn::MaxLanes(D()));
  static constexpr std::int64_t mr = V >= 16 ? 12 : 6;
  static constexpr std::int64_t nr = 2 * V;

  static void tile(std::int64_t kc, const float* ap, const float* wp, const float* bias, float* c, std::int64_t ldc,
                   bool accumulate) {
    TileRows(kc, ap, wp, bias, c, ldc, accumulate, std::make_integer_sequence<std::int64_t, mr>{});
  }

 private:
  template <std::int64_t... I>
  static HWY_INLINE void TileRows(std::int64_t kc, const float* HWY_RESTRICT ap, const float* HWY_RESTRICT wp,
                                  const float* bias, float* c, std::int64_t ldc, bool accumulate,
                                  std::integer_sequence<std::int64_t, I...>) {
    const D d;
    hn::Vec<D> lo[mr], hi[mr];
    ((lo[I] = hn::Zero(d), hi[I] = hn::Zero(d)), ...);
    for (std::int64_t k = 0; k < kc; ++k, ap += mr, wp += nr) {
      const auto w0 = hn::Load(d, wp), w1 = hn::Load(d, wp + V);
      ((lo[I] = hn::MulAdd(hn::Set(d, ap[I]), w0, lo[I]), hi[I] = hn::MulAdd(hn::Set(d, ap[I]), w1, hi[I])), ...);
    }
    StoreTile(d, lo, hi, bias, c, ldc, accumulate, std::integer_sequence<std::int64_t, I...>{});
  }
};

// Rounds n floats to bf16 (to nearest even, NaN kept quiet, as bf16::from_float) and stores them in
// order, two to a 32-bit element (the first in the lower half); an odd n leaves the last upper half 0.
HWY_INLINE void StoreBF16Pairs(const float* HWY_RESTRICT x, std::int64_t n, std::uint32_t* HWY_RESTRICT pairs) {
  const hn::ScalableTag<float> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<std::uint16_t, decltype(d)> du16;
  const std::int64_t V = static_cast<std::int64_t>(hn::Lanes(d));
  auto* out = reinterpret_cast<std::uint16_t*>(pairs);  // written through Highway's stores only
  std::int64_t k = 0;
  for (; k + V <= n; k += V) {
    const auto u = hn::BitCast(du, hn::LoadU(d, x + k));
    const auto rounded = hn::Add(u, hn::Add(hn::Set(du, 0x7fffu), hn::And(hn::ShiftRight<16>(u), hn::Set(du, 1u))));
    const auto is_nan = hn::Gt(hn::BitCast(di, hn::And(u, hn::Set(du, 0x7fffffffu))), hn::Set(di, 0x7f800000));
    const auto top = hn::IfThenElse(hn::RebindMask(du, is_nan), hn::Or(u, hn::Set(du, 0x00400000u)), rounded);
    hn::StoreU(hn::DemoteTo(du16, hn::BitCast(di, hn::ShiftRight<16>(top))), du16, out + k);
  }
  for (; k < n; k += 2) {  // k is even: the vector loop stores whole pairs
    const std::uint32_t hi = k + 1 < n ? bf16::from_float(x[k + 1]).bits : 0u;
    pairs[k / 2] = bf16::from_float(x[k]).bits | hi << 16;
  }
}

// c = a · wᵀ with both operands rounded to bf16 and f32 accumulation: the GEMM of the hwy_bf16_tag
// policy. Panels hold pairs (k, k+1) in 32-bit elements: a panel [k/2][mr], w panel [k/2][nr], so a
// lane of w carries one column's pair and a broadcast of a one row's pair. AVX512-BF16's vdpbf16ps
// adds both exact products of a pair to an f32 lane, at twice the f32 FMA rate; other targets widen
// the pairs and run two FMAs (the same products, summed in another order).
struct GemmTileBF16 {
  using panel_t = std::uint32_t;
  using D = hn::ScalableTag<float>;
  static constexpr std::int64_t kpack = 2, kc_block = 512;  // 32 KiB w panels, as GemmTile's f32 ones
  static constexpr std::int64_t V = static_cast<std::int64_t>(hn::MaxLanes(D()));
#if HWY_TARGET <= HWY_AVX3 && defined(__AVX512BF16__)
  static constexpr bool kDotBF16 = true;
  static constexpr std::int64_t mr = 12;
#else
  static constexpr bool kDotBF16 = false;
  static constexpr std::int64_t mr = V >= 16 ? 12 : 4;  // widened pairs take 4 more registers
#endif
  static constexpr std::int64_t nr = 2 * V;

  static void pack_a(const float* a, std::int64_t lda, std::int64_t m, std::int64_t kc, panel_t* dst) {
    const std::int64_t kp = (kc + 1) / 2;
    thread_local std::vector<panel_t> rows;
    rows.resize(static_cast<std::size_t>(m * kp));
    for (std::int64_t i = 0; i < m; ++i) StoreBF16Pairs(a + i * lda, kc, rows.data() + i * kp);
    detail::pack_w_block<mr>(rows.data(), kp, m, kp, dst);
  }

  static void pack_w(View<const bf16, 2> w, std::int64_t n0, std::int64_t n, std::int64_t k0, std::int64_t kc,
                     panel_t* dst) {
    const std::int64_t kp = (kc + 1) / 2;
    thread_local std::vector<panel_t> rows;
    rows.assign(static_cast<std::size_t>(n * kp), 0u);
    for (std::int64_t j = 0; j < n; ++j)
      std::memcpy(rows.data() + j * kp, w.data() + (n0 + j) * w.stride(0) + k0, static_cast<std::size_t>(kc) * 2);
    detail::pack_w_block<nr>(rows.data(), kp, n, kp, dst);
  }

  static void tile(std::int64_t kc, const panel_t* ap, const panel_t* wp, const float* bias, float* c,
                   std::int64_t ldc, bool accumulate) {
    TileRows(kc / 2, ap, wp, bias, c, ldc, accumulate, std::make_integer_sequence<std::int64_t, mr>{});
  }

 private:
  template <std::int64_t... I>
  static HWY_INLINE void TileRows(std::int64_t pairs, const panel_t* HWY_RESTRICT ap, const panel_t* HWY_RESTRICT wp,
                                  const float* bias, float* c, std::int64_t ldc, bool accumulate,
                                  std::integer_sequence<std::int64_t, I...>) {
    const D d;
    hn::Vec<D> lo[mr], hi[mr];
    ((lo[I] = hn::Zero(d), hi[I] = hn::Zero(d)), ...);
#if HWY_TARGET <= HWY_AVX3 && defined(__AVX512BF16__)
    for (std::int64_t p = 0; p < pairs; ++p, ap += mr, wp += nr) {
      const auto w0 = (__m512bh)_mm512_load_si512(wp), w1 = (__m512bh)_mm512_load_si512(wp + V);
      ((lo[I] = hn::Vec<D>{_mm512_dpbf16_ps(lo[I].raw, (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[I])), w0)},
        hi[I] = hn::Vec<D>{_mm512_dpbf16_ps(hi[I].raw, (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[I])), w1)}),
       ...);
    }
#else
    const hn::RebindToUnsigned<D> du;
    const auto upper = hn::Set(du, 0xffff0000u);
    for (std::int64_t p = 0; p < pairs; ++p, ap += mr, wp += nr) {
      const auto u0 = hn::Load(du, wp), u1 = hn::Load(du, wp + V);
      const auto w0e = hn::BitCast(d, hn::ShiftLeft<16>(u0)), w0o = hn::BitCast(d, hn::And(u0, upper));
      const auto w1e = hn::BitCast(d, hn::ShiftLeft<16>(u1)), w1o = hn::BitCast(d, hn::And(u1, upper));
      ((lo[I] = hn::MulAdd(hn::BitCast(d, hn::Set(du, ap[I] << 16)), w0e, lo[I]),
        hi[I] = hn::MulAdd(hn::BitCast(d, hn::Set(du, ap[I] << 16)), w1e, hi[I]),
        lo[I] = hn::MulAdd(hn::BitCast(d, hn::Set(du, ap[I] & 0xffff0000u)), w0o, lo[I]),
        hi[I] = hn::MulAdd(hn::BitCast(d, hn::Set(du, ap[I] & 0xffff0000u)), w1o, hi[I])),
       ...);
    }
#endif
    StoreTile(d, lo, hi, bias, c, ldc, accumulate, std::integer_sequence<std::int64_t, I...>{});
  }
};

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
