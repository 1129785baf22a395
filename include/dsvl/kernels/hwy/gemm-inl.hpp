// The Highway register tile of the shared packed GEMM driver (gemm_packed.hpp).
#if defined(DSVL_KERNELS_HWY_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_GEMM_INL_H_
#undef DSVL_KERNELS_HWY_GEMM_INL_H_
#else
#define DSVL_KERNELS_HWY_GEMM_INL_H_
#endif

#include <cstdint>
#include <utility>

#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

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
    if (accumulate) {
      ((lo[I] = hn::Add(lo[I], hn::LoadU(d, c + I * ldc)), hi[I] = hn::Add(hi[I], hn::LoadU(d, c + I * ldc + V))),
       ...);
    } else if (bias) {
      const auto b0 = hn::LoadU(d, bias), b1 = hn::LoadU(d, bias + V);
      ((lo[I] = hn::Add(lo[I], b0), hi[I] = hn::Add(hi[I], b1)), ...);
    }
    ((hn::StoreU(lo[I], d, c + I * ldc), hn::StoreU(hi[I], d, c + I * ldc + V)), ...);
  }
};

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
