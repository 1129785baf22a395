#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <bit>
#include <limits>

#include "dsvl/kernels/hwy/math-inl.hpp"
#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

namespace {
std::int64_t ulp_distance(float a, float b) {
  auto key = [](float f) {
    const auto i = static_cast<std::int64_t>(std::bit_cast<std::int32_t>(f));
    return i < 0 ? std::int64_t{INT32_MIN} - i : i;
  };
  return std::abs(key(a) - key(b));
}

// Max ulp error of a 16-wide vector function against a double reference, over [lo, hi] in steps.
template <class VecF, class Ref>
std::int64_t max_ulp(VecF vf, Ref ref, double lo, double hi, double step) {
  alignas(64) float in[16], out[16];
  std::int64_t worst = 0;
  for (double x0 = lo; x0 <= hi; x0 += 16 * step) {
    for (int k = 0; k < 16; ++k) in[k] = static_cast<float>(x0 + k * step);
    vf(in, out);
    for (int k = 0; k < 16; ++k) worst = std::max(worst, ulp_distance(out[k], static_cast<float>(ref(double(in[k])))));
  }
  return worst;
}

namespace hn = hwy::HWY_NAMESPACE;
template <class F>
void hwy_apply(const float* in, float* out, F f) {
  const hn::ScalableTag<float> d;
  for (std::size_t i = 0; i < 16; i += hn::Lanes(d)) hn::Store(f(d, hn::Load(d, in + i)), d, out + i);
}
template <class F>
void xsimd_apply(const float* in, float* out, F f) {
  using B = xsimd::batch<float>;
  for (std::size_t i = 0; i < 16; i += B::size) f(B::load_aligned(in + i)).store_aligned(out + i);
}
}  // namespace

// The approximations behind the vector activations, against double precision: every 2^-16 over
// [-6, 6] (erf is +-1 in f32 beyond 3.92) and [-10, 10] (tanh is +-1 beyond 9.01), and every
// 1e-8 / 256 on [-1e-6, 1e-6] (the small-argument path of erf keeps full relative accuracy).
TEST_CASE("vector erf and tanh accuracy") {
  const auto erf_ref = [](double x) { return std::erf(x); };
  const auto tanh_ref = [](double x) { return std::tanh(x); };
  const auto hwy_erf = [](const float* in, float* out) {
    hwy_apply(in, out, [](auto d, auto v) { return dsvl::kernels::HWY_NAMESPACE::Erf(d, v); });
  };
  const auto xsimd_erf = [](const float* in, float* out) { xsimd_apply(in, out, [](auto v) { return xsimd::erf(v); }); };
  const auto hwy_tanh = [](const float* in, float* out) {
    hwy_apply(in, out, [](auto d, auto v) { return hn::Tanh(d, v); });
  };
  const auto xsimd_tanh = [](const float* in, float* out) { xsimd_apply(in, out, [](auto v) { return xsimd::tanh(v); }); };
  const std::int64_t e_hwy = std::max(max_ulp(hwy_erf, erf_ref, -6, 6, 0x1p-16), max_ulp(hwy_erf, erf_ref, -1e-6, 1e-6, 1e-8 / 256));
  const std::int64_t e_xs = std::max(max_ulp(xsimd_erf, erf_ref, -6, 6, 0x1p-16), max_ulp(xsimd_erf, erf_ref, -1e-6, 1e-6, 1e-8 / 256));
  const std::int64_t t_hwy = max_ulp(hwy_tanh, tanh_ref, -10, 10, 0x1p-16);
  const std::int64_t t_xs = max_ulp(xsimd_tanh, tanh_ref, -10, 10, 0x1p-16);
  MESSAGE("max erf error: hwy (dsvl Erf) ", e_hwy, " ulp, xsimd ", e_xs, " ulp; max tanh error: hwy ", t_hwy,
          " ulp, xsimd ", t_xs, " ulp");
  CHECK(e_hwy <= 1);
  CHECK(e_xs <= 2);
  CHECK(t_hwy <= 4);
  CHECK(t_xs <= 4);
}

// Tolerances, relative to the largest |output| of the row (inputs in [-8, 8], so that is ~8):
// - gelu_erf: erf within 2 ulp (above) is within 2.4e-7 of the exact value, so 0.5 x (1 + erf)
//   moves by 1.2e-7 |x|, plus a few roundings: 4e-7 of the row scale.
// - gelu_tanh: tanh within 4 ulp (4.8e-7 absolute near +-1): 0.5 x (1 + tanh) moves by 2.4e-7 |x|,
//   plus roundings: 6e-7 of the scale.
// - silu, swiglu, quick_gelu: exp within 1 ulp, then one add and one division: 3 ulp relative to each output,
//   so 4e-7 of the scale.
TEST_CASE_TEMPLATE("activations match the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  for (std::int64_t T : {0, 1, 3}) {
    for (std::int64_t D : kLengths) {
      CAPTURE(T);
      CAPTURE(D);
      const std::int64_t ld = D + 3;
      Buffer<float> x(T * ld), u(T * ld, 3), got(T * ld, 2), want(T * ld);
      fill_uniform(x.data(), T * ld, -8.0f, 8.0f);
      fill_uniform(u.data(), T * ld, -2.0f, 2.0f);
      View<const float, 2> xv(x.data(), {T, D}, {ld, 1}), uv(u.data(), {T, D}, {ld, 1});
      View<float, 2> gv(got.data(), {T, D}, {ld, 1}), wv(want.data(), {T, D}, {ld, 1});
      auto check = [&](double rtol) {
        for (std::int64_t t = 0; t < T; ++t) DSVL_CHECK_CLOSE(got.data() + t * ld, want.data() + t * ld, D, 0.0, rtol);
      };
      SUBCASE("gelu_erf") {
        kernels::gelu_erf(scalar_tag{}, xv, wv);
        kernels::gelu_erf(Tag{}, xv, gv);
        check(4e-7);
      }
      SUBCASE("gelu_tanh") {
        kernels::gelu_tanh(scalar_tag{}, xv, wv);
        kernels::gelu_tanh(Tag{}, xv, gv);
        check(6e-7);
      }
      SUBCASE("silu") {
        kernels::silu(scalar_tag{}, xv, wv);
        kernels::silu(Tag{}, xv, gv);
        check(4e-7);
      }
      SUBCASE("quick_gelu") {
        kernels::quick_gelu(scalar_tag{}, xv, wv);
        kernels::quick_gelu(Tag{}, xv, gv);
        check(4e-7);
      }
      SUBCASE("swiglu") {
        kernels::swiglu(scalar_tag{}, xv, uv, wv);
        kernels::swiglu(Tag{}, xv, uv, gv);
        check(4e-7);
      }
    }
  }
}

TEST_CASE_TEMPLATE("activations at known points, in place", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  // 20 points so that vector and tail code both see them; values from the closed forms in double.
  const std::vector<float> xs = {0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.5f, -3.0f, 10.0f, -10.0f, 100.0f,
                                 -100.0f, 1e-6f, 0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.5f, -3.0f, 10.0f};
  const auto run = [&](auto kernel, auto exact) {
    std::vector<float> y = xs;
    kernel(Tag{}, view<const float>(y.data(), {2, 10}), view(y.data(), {2, 10}));
    for (std::size_t i = 0; i < xs.size(); ++i) {
      CAPTURE(xs[i]);
      CHECK(y[i] == doctest::Approx(exact(double(xs[i]))).epsilon(1e-6));
    }
  };
  run([](auto... a) { kernels::gelu_erf(a...); }, [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); });
  run([](auto... a) { kernels::gelu_tanh(a...); },
      [](double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); });
  run([](auto... a) { kernels::silu(a...); }, [](double x) { return x / (1 + std::exp(-x)); });
  run([](auto... a) { kernels::quick_gelu(a...); }, [](double x) { return x / (1 + std::exp(-1.702 * x)); });
  std::vector<float> g = xs, up(xs.size(), 3.0f);
  kernels::swiglu(Tag{}, view<const float>(g.data(), {1, 20}), view<const float>(up.data(), {1, 20}), view(g.data(), {1, 20}));
  for (std::size_t i = 0; i < xs.size(); ++i) CHECK(g[i] == doctest::Approx(3.0 * xs[i] / (1 + std::exp(-double(xs[i])))));
}

TEST_CASE_TEMPLATE("activations reject mismatched shapes", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> x(6), y(6);
  CHECK_THROWS_WITH_AS(kernels::gelu_erf(Tag{}, view<const float>(x.data(), {2, 3}), view(y.data(), {3, 2})),
                       doctest::Contains("kernels::gelu_erf"), dsvl::Error);
  CHECK_THROWS_WITH_AS(kernels::swiglu(Tag{}, view<const float>(x.data(), {2, 3}), view<const float>(x.data(), {3, 2}),
                                       view(y.data(), {2, 3})),
                       doctest::Contains("kernels::swiglu"), dsvl::Error);
}
