#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <bit>
#include <limits>

#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;
using dsvl::kernels::SoftmaxMask;

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();

// Distance in units in the last place between two finite floats of any sign.
std::int64_t ulp_distance(float a, float b) {
  auto key = [](float f) {
    const auto i = static_cast<std::int64_t>(std::bit_cast<std::int32_t>(f));
    return i < 0 ? std::int64_t{INT32_MIN} - i : i;
  };
  return std::abs(key(a) - key(b));
}

// Max ulp error of a vector exp over [lo, hi] in steps of 2^-12, against exp in double.
template <class F>
std::int64_t max_exp_ulp(F vexp, float lo, float hi) {
  constexpr int kLanes = 16;
  alignas(64) float in[kLanes], out[kLanes];
  std::int64_t worst = 0;
  for (double x0 = lo; x0 <= hi; x0 += kLanes / 4096.0) {
    for (int k = 0; k < kLanes; ++k) in[k] = static_cast<float>(x0 + k / 4096.0);
    vexp(in, out);
    for (int k = 0; k < kLanes; ++k) {
      const float want = static_cast<float>(std::exp(static_cast<double>(in[k])));
      if (want >= std::numeric_limits<float>::min()) worst = std::max(worst, ulp_distance(out[k], want));
    }
  }
  return worst;
}
}  // namespace

// The softmax exponentials lie in (-inf, 0]; below -87.3 the result is subnormal and the
// softmax entry negligible, so the accuracy that matters is on [-87, 0].
TEST_CASE("vector exp accuracy on the softmax range") {
  namespace hn = hwy::HWY_NAMESPACE;
  const std::int64_t hwy_ulp = max_exp_ulp(
      [](const float* in, float* out) {
        const hn::ScalableTag<float> d;
        for (std::size_t i = 0; i < 16; i += hn::Lanes(d)) hn::Store(hn::Exp(d, hn::Load(d, in + i)), d, out + i);
      },
      -87.0f, 0.0f);
  const std::int64_t xsimd_ulp = max_exp_ulp(
      [](const float* in, float* out) {
        using B = xsimd::batch<float>;
        for (std::size_t i = 0; i < 16; i += B::size) xsimd::exp(B::load_aligned(in + i)).store_aligned(out + i);
      },
      -87.0f, 0.0f);
  MESSAGE("max exp error on [-87, 0]: hwy ", hwy_ulp, " ulp, xsimd ", xsimd_ulp, " ulp");
  CHECK(hwy_ulp <= 1);
  CHECK(xsimd_ulp <= 1);
}

// Tolerance, per row, relative to the row's largest probability: each exponential is within
// 1 ulp (measured above) in every policy, and the row sum adds up to 257 positive terms in
// another order (a random walk of ~sqrt(S) roundings of 2^-24): a few 1e-7; 2e-6 leaves margin.
TEST_CASE_TEMPLATE("softmax matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  for (std::int64_t R : {0, 1, 5}) {
    for (std::int64_t S : kLengths) {
      for (SoftmaxMask mask : {SoftmaxMask{}, SoftmaxMask{0, -1}, SoftmaxMask{3, -1}, SoftmaxMask{-1, S / 2},
                               SoftmaxMask{1, S - 2}}) {
        for (float scale : {1.0f, 0.125f}) {
          CAPTURE(R);
          CAPTURE(S);
          CAPTURE(mask.causal_offset);
          CAPTURE(mask.valid);
          CAPTURE(scale);
          const std::int64_t ld = S + 3;
          Buffer<float> got(R * ld, 2), want(R * ld);
          fill_uniform(want.data(), R * ld, -8.0f, 8.0f);
          std::copy(want.data(), want.data() + R * ld, got.data());
          kernels::softmax(scalar_tag{}, View<float, 2>(want.data(), {R, S}, {ld, 1}), scale, mask);
          kernels::softmax(Tag{}, View<float, 2>(got.data(), {R, S}, {ld, 1}), scale, mask);
          for (std::int64_t r = 0; r < R; ++r) DSVL_CHECK_CLOSE(got.data() + r * ld, want.data() + r * ld, S, 0.0, 2e-6);
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("softmax masks, edge rows and large inputs", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  SUBCASE("causal: row r keeps columns 0..r + offset") {
    // 4 rows of 21 equal logits: each row is uniform over its unmasked prefix.
    for (std::int64_t offset : {0, 2}) {
      std::vector<float> x(4 * 21, 0.5f);
      kernels::softmax(Tag{}, view(x.data(), {4, 21}), 1.0f, SoftmaxMask{offset, -1});
      for (std::int64_t r = 0; r < 4; ++r)
        for (std::int64_t s = 0; s < 21; ++s)
          CHECK(x[r * 21 + s] == (s <= r + offset ? doctest::Approx(1.0 / (r + offset + 1)) : doctest::Approx(0.0)));
    }
  }
  SUBCASE("padding, combined with causal, and a fully masked row") {
    std::vector<float> x(3 * 19);
    fill_uniform(x.data(), 3 * 19, -3.0f, 3.0f);
    kernels::softmax(Tag{}, view(x.data(), {3, 19}), 0.5f, SoftmaxMask{-1, 17});
    for (std::int64_t r = 0; r < 3; ++r) {
      double sum = 0;
      for (std::int64_t s = 0; s < 17; ++s) sum += x[r * 19 + s];
      CHECK(sum == doctest::Approx(1.0));
      CHECK(x[r * 19 + 17] == 0.0f);
      CHECK(x[r * 19 + 18] == 0.0f);
    }
    std::fill(x.begin(), x.end(), 1.0f);
    kernels::softmax(Tag{}, view(x.data(), {3, 19}), 1.0f, SoftmaxMask{0, 2});
    CHECK(x[0] == 1.0f);  // row 0: causal keeps 1 column
    CHECK(x[19] == 0.5f);
    CHECK(x[20] == 0.5f);  // row 1: causal 2, padding 2
    CHECK(x[38] == 0.5f);
    CHECK(x[40] == 0.0f);  // row 2: padding keeps 2
    std::fill(x.begin(), x.end(), 1.0f);
    kernels::softmax(Tag{}, view(x.data(), {3, 19}), 1.0f, SoftmaxMask{-1, 0});
    for (float v : x) CHECK(v == 0.0f);
  }
  SUBCASE("huge and infinite logits") {
    std::vector<float> x(2 * 20, -kInf);
    x[3] = 1e30f;
    x[7] = 1e30f;
    x[9] = -1e30f;
    x[11] = 3e38f;  // above 1e30 by a huge margin: takes all the mass
    for (std::int64_t s = 0; s < 20; ++s) x[20 + s] = s % 2 ? -kInf : 1e30f;
    kernels::softmax(Tag{}, view(x.data(), {2, 20}), 1.0f);
    for (std::int64_t s = 0; s < 20; ++s) CHECK(x[s] == (s == 11 ? 1.0f : 0.0f));
    for (std::int64_t s = 0; s < 20; ++s) CHECK(x[20 + s] == (s % 2 ? 0.0f : 0.1f));
  }
  SUBCASE("a row of -inf becomes zeros, not NaN") {
    std::vector<float> x(17, -kInf);
    kernels::softmax(Tag{}, view(x.data(), {1, 17}), 0.125f);
    for (float v : x) CHECK(v == 0.0f);
  }
}

TEST_CASE_TEMPLATE("softmax rejects a strided last dimension", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> x(8);
  CHECK_THROWS_WITH_AS(kernels::softmax(Tag{}, View<float, 2>(x.data(), {2, 2}, {4, 2})),
                       doctest::Contains("kernels::softmax"), dsvl::Error);
}
