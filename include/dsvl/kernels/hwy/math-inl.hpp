// Vector math missing from Highway 1.0.3's contrib/math (re-includable per target).
#if defined(DSVL_KERNELS_HWY_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_MATH_INL_H_
#undef DSVL_KERNELS_HWY_MATH_INL_H_
#else
#define DSVL_KERNELS_HWY_MATH_INL_H_
#endif

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// erf(x) for f32 lanes. Max error 1 ulp against the correctly rounded erf (measured every
// 2^-16 over [-6, 6] and near 0 in tests/kernels/activations_test.cpp).
//   |x| < 1:  erf(x) = x * P(x^2), evaluated as x + x * (P(x^2) - 1), P of degree 6 (relative
//             error 1.2e-9 before rounding);
//   |x| >= 1: erf(x) = sign(x) * (1 - exp(-a^2) * Q(t)),  a = min(|x|, 4),  t = 1 / (1 + a / 2),
//             Q of degree 6 fits erfc(a) * exp(a^2) on [1, 4] (relative error 2.7e-8);
//             beyond 4, 1 - erfc rounds to 1 in f32.
// Both polynomials are weighted least-squares (Lawson) fits made for dsvl.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Erf(D d, V x) {
  const V ax = hn::Abs(x);
  const V s = hn::Mul(x, x);
  V p = hn::Set(d, 7.85385771e-05f);
  p = hn::MulAdd(p, s, hn::Set(d, -0.000801019252f));
  p = hn::MulAdd(p, s, hn::Set(d, 0.00518832756f));
  p = hn::MulAdd(p, s, hn::Set(d, -0.0268538119f));
  p = hn::MulAdd(p, s, hn::Set(d, 0.112835851f));
  p = hn::MulAdd(p, s, hn::Set(d, -0.376126258f));
  p = hn::MulAdd(p, s, hn::Set(d, 0.128379166f));  // P(0) - 1: adding x last keeps the rounding small
  const V small = hn::MulAdd(x, p, x);

  const V one = hn::Set(d, 1.0f);
  const V a = hn::Min(ax, hn::Set(d, 4.0f));
  const V t = hn::Div(one, hn::MulAdd(a, hn::Set(d, 0.5f), one));
  V q = hn::Set(d, -0.0590788853f);
  q = hn::MulAdd(q, t, hn::Set(d, -0.0408335899f));
  q = hn::MulAdd(q, t, hn::Set(d, 0.383573448f));
  q = hn::MulAdd(q, t, hn::Set(d, 0.114384681f));
  q = hn::MulAdd(q, t, hn::Set(d, 0.326121727f));
  q = hn::MulAdd(q, t, hn::Set(d, 0.274512778f));
  q = hn::MulAdd(q, t, hn::Set(d, 0.000536590485f));
  const V erfc = hn::Mul(hn::Exp(d, hn::Neg(hn::Mul(a, a))), q);
  const V large = hn::CopySignToAbs(hn::Sub(one, erfc), x);
  return hn::IfThenElse(hn::Lt(ax, one), small, large);
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
