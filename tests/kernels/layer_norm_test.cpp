#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

// Tolerance: the policies sum the row (mean) and the squared deviations (variance) in another
// order (lanes, then a horizontal sum). x has a mean offset of 2, so the f32 row sum of up to 257
// elements (~500) rounds at ~3e-5 per addition; the mean then differs by ~1e-6 and the normalised
// output, of scale ~5, by a few 1e-6. 1e-5 of the output scale covers it. bf16 weights and biases
// widen exactly, so the tolerance is the same.
TEST_CASE_TEMPLATE("layer_norm matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  auto run = [](auto weight_type, bool with_bias) {
    using W = decltype(weight_type);
    for (std::int64_t T : {0, 1, 3}) {
      for (std::int64_t D : kLengths) {
        CAPTURE(T);
        CAPTURE(D);
        const std::int64_t ld = D + 3;
        Buffer<float> x(T * ld), got(T * ld, 2), want(T * ld);
        Buffer<W> w(D), b(D, 3);
        fill_uniform(x.data(), T * ld, 1.0f, 3.0f);
        fill_uniform(w.data(), D, 0.5f, 1.5f);
        fill_uniform(b.data(), D);
        View<const float, 2> xv(x.data(), {T, D}, {ld, 1});
        View<const W, 1> wv(w.data(), {D}), bv(b.data(), {with_bias ? D : 0});
        kernels::layer_norm(scalar_tag{}, xv, wv, bv, 1e-6f, View<float, 2>(want.data(), {T, D}, {ld, 1}));
        kernels::layer_norm(Tag{}, xv, wv, bv, 1e-6f, View<float, 2>(got.data(), {T, D}, {ld, 1}));
        for (std::int64_t t = 0; t < T; ++t) DSVL_CHECK_CLOSE(got.data() + t * ld, want.data() + t * ld, D, 0.0, 1e-5);
      }
    }
  };
  SUBCASE("f32 weight, bias") { run(float{}, true); }
  SUBCASE("f32 weight, no bias") { run(float{}, false); }
  SUBCASE("bf16 weight, bias") { run(bf16{}, true); }
}

// Tolerance: the vector versions sum each pixel's channels in the reference's order, so only the
// final w * v + b differs (one fused multiply-add against two roundings): 1 ulp of |w * v|, where
// |v| <= sqrt(C - 1) < 6 and w < 1.5, so at most 2^-23 * 9 ~ 1.1e-6, whatever b cancels.
TEST_CASE_TEMPLATE("layer_norm2d matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  auto run = [](auto weight_type) {
    using W = decltype(weight_type);
    for (std::int64_t C : {0, 1, 3, 16, 33}) {
      // Pixel counts: empty, one, odd, not a multiple of any lane count, more than a 512-pixel block.
      for (const auto& size : {std::pair<std::int64_t, std::int64_t>{0, 4}, {1, 1}, {3, 5}, {4, 8}, {7, 9}, {23, 31}}) {
        const std::int64_t H = size.first, Wd = size.second;
        CAPTURE(C);
        CAPTURE(H);
        CAPTURE(Wd);
        const std::int64_t P = H * Wd, cs = P + 5;  // padded channel stride
        Buffer<float> x(C * cs), got(C * cs, 2), want(C * cs);
        Buffer<W> w(C), b(C, 3);
        fill_uniform(x.data(), C * cs, -2.0f, 3.0f);
        fill_uniform(w.data(), C, 0.5f, 1.5f);
        fill_uniform(b.data(), C);
        View<const float, 3> xv(x.data(), {C, H, Wd}, {cs, Wd, 1});
        View<const W, 1> wv(w.data(), {C}), bv(b.data(), {C});
        kernels::layer_norm2d(scalar_tag{}, xv, wv, bv, 1e-6f, View<float, 3>(want.data(), {C, H, Wd}, {cs, Wd, 1}));
        kernels::layer_norm2d(Tag{}, xv, wv, bv, 1e-6f, View<float, 3>(got.data(), {C, H, Wd}, {cs, Wd, 1}));
        for (std::int64_t c = 0; c < C; ++c) DSVL_CHECK_CLOSE(got.data() + c * cs, want.data() + c * cs, P, 1.2e-6, 0.0);
      }
    }
  };
  SUBCASE("f32 weight") { run(float{}); }
  SUBCASE("bf16 weight") { run(bf16{}); }
}

TEST_CASE_TEMPLATE("layer_norm matches the formula, in place", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  // One row of 20: mean 10.5, biased variance 33.25.
  std::vector<float> x(20), w(20), b(20);
  for (int i = 0; i < 20; ++i) {
    x[i] = static_cast<float>(i + 1);
    w[i] = 1.0f + 0.125f * static_cast<float>(i % 4);
    b[i] = static_cast<float>(i % 3) - 1.0f;
  }
  const auto ws = to_storage<bf16>(w), bs = to_storage<bf16>(b);
  std::vector<float> y = x;
  kernels::layer_norm(Tag{}, view<const float>(y.data(), {1, 20}), view<const bf16>(ws.data(), {20}),
                      view<const bf16>(bs.data(), {20}), 0.0f, view(y.data(), {1, 20}));
  const double r = 1.0 / std::sqrt(33.25);
  for (int i = 0; i < 20; ++i) CHECK(y[i] == doctest::Approx((x[i] - 10.5) * r * w[i] + b[i]).epsilon(1e-6));
}

TEST_CASE_TEMPLATE("layer_norm2d equals layer_norm over the channels of each pixel", Tag, scalar_tag, xsimd_tag<>,
                   hwy_tag) {
  const std::int64_t C = 24, H = 5, Wd = 7, P = H * Wd;
  Tensor<float, 3> x({C, H, Wd}), y({C, H, Wd});
  Tensor<float, 2> xt({P, C}), yt({P, C});
  Tensor<float, 1> w({C}), b({C});
  fill_uniform(x.data(), x.size(), -1.0f, 4.0f);
  fill_uniform(w.data(), C, 0.5f, 1.5f);
  fill_uniform(b.data(), C);
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t p = 0; p < P; ++p) xt(p, c) = x.data()[c * P + p];
  kernels::layer_norm2d(Tag{}, std::as_const(x).view(), std::as_const(w).view(), std::as_const(b).view(), 1e-6f, y.view());
  kernels::layer_norm(scalar_tag{}, std::as_const(xt).view(), std::as_const(w).view(), std::as_const(b).view(), 1e-6f,
                      yt.view());
  std::vector<float> got(static_cast<std::size_t>(P * C));
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t p = 0; p < P; ++p) got[static_cast<std::size_t>(p * C + c)] = y.data()[c * P + p];
  // The same arithmetic in the same order up to fused multiply-adds: a few ulp.
  DSVL_CHECK_CLOSE(got.data(), yt.data(), P * C, 0.0, 1e-6);
}

TEST_CASE_TEMPLATE("layer norms reject bad shapes", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> x(12), y(12), w(4);
  const auto xv = view<const float>(x.data(), {3, 4});
  CHECK_THROWS_WITH_AS(kernels::layer_norm(Tag{}, xv, view<const float>(w.data(), {3}), View<const float, 1>(), 1e-6f,
                                           view(y.data(), {3, 4})),
                       doctest::Contains("kernels::layer_norm"), dsvl::Error);
  CHECK_THROWS_WITH_AS(kernels::layer_norm(Tag{}, xv, view<const float>(w.data(), {4}), view<const float>(w.data(), {2}),
                                           1e-6f, view(y.data(), {3, 4})),
                       doctest::Contains("bias"), dsvl::Error);
  // A (C, H, W) view whose rows are padded (stride(1) != W) has no contiguous plane.
  CHECK_THROWS_WITH_AS(kernels::layer_norm2d(Tag{}, View<const float, 3>(x.data(), {2, 2, 2}, {6, 3, 1}),
                                             view<const float>(w.data(), {2}), view<const float>(w.data(), {2}), 1e-6f,
                                             View<float, 3>(y.data(), {2, 2, 2}, {6, 3, 1})),
                       doctest::Contains("kernels::layer_norm2d"), dsvl::Error);
}
