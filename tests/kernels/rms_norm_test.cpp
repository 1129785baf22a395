#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

// Tolerance: f32 sums of up to 257 squares in a different order (lanes, then a horizontal sum):
// relative error ~ D * 2^-24; 1e-5 of the output scale covers it with margin. bf16 weights are
// widened exactly, so the tolerance is the same.
TEST_CASE_TEMPLATE("rms_norm matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  auto run = [](auto weight_type) {
    using W = decltype(weight_type);
    for (std::int64_t T : {0, 1, 3}) {
      for (std::int64_t D : kLengths) {
        CAPTURE(T);
        CAPTURE(D);
        const std::int64_t ld = D + 3;  // padded rows: a stride that is not the row length
        Buffer<float> x(T * ld), got(T * ld), want(T * ld);
        Buffer<W> w(D);
        fill_uniform(x.data(), T * ld);
        fill_uniform(w.data(), D, 0.5f, 1.5f);
        View<const float, 2> xv(x.data(), {T, D}, {ld, 1});
        View<const W, 1> wv(w.data(), {D});
        kernels::rms_norm(scalar_tag{}, xv, wv, 1e-6f, View<float, 2>(want.data(), {T, D}, {ld, 1}));
        kernels::rms_norm(Tag{}, xv, wv, 1e-6f, View<float, 2>(got.data(), {T, D}, {ld, 1}));
        for (std::int64_t t = 0; t < T; ++t) DSVL_CHECK_CLOSE(got.data() + t * ld, want.data() + t * ld, D, 0.0, 1e-5);
      }
    }
  };
  SUBCASE("f32 weight") { run(float{}); }
  SUBCASE("bf16 weight") { run(bf16{}); }
}

TEST_CASE("rms_norm matches the formula") {
  std::vector<float> x = {1, 2, 3, 4}, y(4);
  std::vector<bf16> w = {bf16::from_float(1), bf16::from_float(2), bf16::from_float(0.5f), bf16::from_float(-1)};
  kernels::rms_norm(scalar_tag{}, view<const float>(x.data(), {1, 4}), view<const bf16>(w.data(), {4}), 0.0f,
                    view(y.data(), {1, 4}));
  const float r = 1.0f / std::sqrt(30.0f / 4.0f);
  CHECK(y[0] == doctest::Approx(1 * r));
  CHECK(y[1] == doctest::Approx(4 * r));
  CHECK(y[2] == doctest::Approx(1.5 * r));
  CHECK(y[3] == doctest::Approx(-4 * r));
}

TEST_CASE("rms_norm rejects mismatched shapes") {
  std::vector<float> x(6), y(6), w(2);
  CHECK_THROWS_WITH_AS(kernels::rms_norm(hwy_tag{}, view<const float>(x.data(), {2, 3}), view<const float>(w.data(), {2}),
                                         1e-6f, view(y.data(), {2, 3})),
                       doctest::Contains("kernels::rms_norm"), dsvl::Error);
}
