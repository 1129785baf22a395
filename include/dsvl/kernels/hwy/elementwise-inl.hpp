#if defined(DSVL_KERNELS_HWY_ELEMENTWISE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_ELEMENTWISE_INL_H_
#undef DSVL_KERNELS_HWY_ELEMENTWISE_INL_H_
#else
#define DSVL_KERNELS_HWY_ELEMENTWISE_INL_H_
#endif

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/elementwise.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

// out = f(a, b) row by row; b has a's shape or one broadcast row.
template <class VecF, class ScalarF>
void ZipRows(View<const float, 2> a, View<const float, 2> b, View<float, 2> out, VecF vf, ScalarF sf) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t n = a.shape(1), nv = n - n % L;
  for (std::int64_t r = 0; r < a.shape(0); ++r) {
    const float* ar = a.data() + r * a.stride(0);
    const float* br = detail::elementwise_b_row(b, r);
    float* o = out.data() + r * out.stride(0);
    std::int64_t i = 0;
    for (; i < nv; i += L) hn::StoreU(vf(hn::LoadU(d, ar + i), hn::LoadU(d, br + i)), d, o + i);
    for (; i < n; ++i) o[i] = sf(ar[i], br[i]);
  }
}

inline void Scale(View<const float, 2> x, float s, View<float, 2> out) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t n = x.shape(1), nv = n - n % L;
  const auto sv = hn::Set(d, s);
  for (std::int64_t r = 0; r < x.shape(0); ++r) {
    const float* xr = x.data() + r * x.stride(0);
    float* o = out.data() + r * out.stride(0);
    std::int64_t i = 0;
    for (; i < nv; i += L) hn::StoreU(hn::Mul(sv, hn::LoadU(d, xr + i)), d, o + i);
    for (; i < n; ++i) o[i] = s * xr[i];
  }
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
