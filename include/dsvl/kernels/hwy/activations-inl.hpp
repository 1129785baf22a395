#if defined(DSVL_KERNELS_HWY_ACTIVATIONS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_ACTIVATIONS_INL_H_
#undef DSVL_KERNELS_HWY_ACTIVATIONS_INL_H_
#else
#define DSVL_KERNELS_HWY_ACTIVATIONS_INL_H_
#endif

#include <hwy/contrib/math/math-inl.h>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/activations.hpp"
#include "dsvl/kernels/hwy/math-inl.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluErf(D d, V x) {
  const V half_x = hn::Mul(hn::Set(d, 0.5f), x);
  return hn::Mul(half_x, hn::Add(hn::Set(d, 1.0f), Erf(d, hn::Mul(x, hn::Set(d, detail::kGeluSqrt1_2)))));
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE V GeluTanh(D d, V x) {
  const V cube = hn::Mul(hn::Mul(x, x), x);
  const V inner = hn::Mul(hn::Set(d, detail::kGeluTanhBeta), hn::MulAdd(hn::Set(d, detail::kGeluTanhKappa), cube, x));
  return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), hn::Add(hn::Set(d, 1.0f), hn::Tanh(d, inner)));
}

// x / (1 + exp(-x)); the exponent is capped at 88 (Highway's Exp is valid up to 104), where
// 1 + exp(88) = 1.7e38 already makes the quotient negligible.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Silu(D d, V x) {
  const V e = hn::Exp(d, hn::Min(hn::Neg(x), hn::Set(d, 88.0f)));
  return hn::Div(x, hn::Add(hn::Set(d, 1.0f), e));
}

// x / (1 + exp(-1.702 x)), capped as Silu.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V QuickGelu(D d, V x) {
  const V e = hn::Exp(d, hn::Min(hn::Mul(hn::Set(d, -detail::kQuickGeluAlpha), x), hn::Set(d, 88.0f)));
  return hn::Div(x, hn::Add(hn::Set(d, 1.0f), e));
}

// y = f(x) row by row, with the scalar reference on each row's tail.
template <class VecF, class ScalarF>
void MapRows(View<const float, 2> x, View<float, 2> y, VecF vf, ScalarF sf) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t n = x.shape(1), nv = n - n % L;
  for (std::int64_t r = 0; r < x.shape(0); ++r) {
    const float* xr = x.data() + r * x.stride(0);
    float* yr = y.data() + r * y.stride(0);
    std::int64_t i = 0;
    for (; i < nv; i += L) hn::StoreU(vf(d, hn::LoadU(d, xr + i)), d, yr + i);
    for (; i < n; ++i) yr[i] = sf(xr[i]);
  }
}

inline void SwiGlu(View<const float, 2> gate, View<const float, 2> up, View<float, 2> out) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t n = gate.shape(1), nv = n - n % L;
  for (std::int64_t r = 0; r < gate.shape(0); ++r) {
    const float* g = gate.data() + r * gate.stride(0);
    const float* u = up.data() + r * up.stride(0);
    float* o = out.data() + r * out.stride(0);
    std::int64_t i = 0;
    for (; i < nv; i += L) hn::StoreU(hn::Mul(Silu(d, hn::LoadU(d, g + i)), hn::LoadU(d, u + i)), d, o + i);
    for (; i < n; ++i) o[i] = detail::silu_scalar(g[i]) * u[i];
  }
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
