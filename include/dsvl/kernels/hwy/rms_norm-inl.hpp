#if defined(DSVL_KERNELS_HWY_RMS_NORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_RMS_NORM_INL_H_
#undef DSVL_KERNELS_HWY_RMS_NORM_INL_H_
#else
#define DSVL_KERNELS_HWY_RMS_NORM_INL_H_
#endif

#include <cmath>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

template <class W>
void RmsNorm(View<const float, 2> x, View<const W, 1> w, float eps, View<float, 2> y) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t D = x.shape(1), Dv = D - D % L;
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* xr = x.data() + t * x.stride(0);
    float* yr = y.data() + t * y.stride(0);
    auto acc = hn::Zero(d);
    std::int64_t i = 0;
    for (; i < Dv; i += L) {
      const auto v = hn::LoadU(d, xr + i);
      acc = hn::MulAdd(v, v, acc);
    }
    float ss = SumLanes(d, acc);
    for (; i < D; ++i) ss += xr[i] * xr[i];
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(D) + eps);
    const auto rv = hn::Set(d, r);
    for (i = 0; i < Dv; i += L) hn::StoreU(hn::Mul(LoadF32(d, w.data() + i), hn::Mul(hn::LoadU(d, xr + i), rv)), d, yr + i);
    for (; i < D; ++i) yr[i] = to_f32(w.data()[i]) * (xr[i] * r);
  }
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
