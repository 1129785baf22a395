#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

namespace {
struct Shape {
  std::int64_t C, H, W, O, kh, kw, stride, padding;
};
}  // namespace

// Tolerance: each output is a dot product of length K = C*kh*kw with |x|, |w| <= 1, summed in
// another order (GEMM blocks, FMA); both orders are within K * 2^-24 of the exact sum, so
// 2 * K * 2^-24 absolute bounds the difference. bf16 weights are widened exactly on both sides.
TEST_CASE_TEMPLATE("conv2d matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  const Shape shapes[] = {
      {1, 1, 1, 1, 1, 1, 1, 0},    {3, 7, 9, 4, 3, 3, 1, 1},    {3, 9, 8, 5, 3, 3, 2, 1},  {2, 33, 35, 3, 16, 16, 16, 0},
      {3, 30, 31, 17, 14, 14, 14, 0}, {5, 4, 6, 3, 1, 1, 1, 0}, {3, 5, 7, 17, 2, 3, 2, 1}, {7, 13, 11, 9, 3, 3, 1, 1},
      {16, 12, 12, 33, 3, 3, 2, 1}, {37, 9, 10, 20, 1, 1, 1, 0}, {2, 1, 1, 3, 5, 5, 1, 2}, {0, 4, 4, 3, 3, 3, 1, 1},
      {3, 4, 4, 0, 3, 3, 1, 1},    {4, 0, 5, 2, 1, 1, 1, 1},   {8, 40, 3, 7, 3, 3, 1, 1}};
  auto run = [&](auto weight_type) {
    using W = decltype(weight_type);
    for (const Shape& s : shapes) {
      for (bool with_bias : {false, true}) {
        const std::int64_t Ho = (s.H + 2 * s.padding - s.kh) / s.stride + 1;
        const std::int64_t Wo = (s.W + 2 * s.padding - s.kw) / s.stride + 1;
        const std::int64_t K = s.C * s.kh * s.kw, ldx = s.W + 3, ldy = Wo + 2, ldw = K + 5;
        CAPTURE(s.C);
        CAPTURE(s.H);
        CAPTURE(s.W);
        CAPTURE(s.O);
        CAPTURE(s.kh);
        CAPTURE(s.kw);
        CAPTURE(s.stride);
        CAPTURE(s.padding);
        CAPTURE(with_bias);
        Buffer<float> x(s.C * s.H * ldx), b(s.O), got(s.O * Ho * ldy), want(s.O * Ho * ldy);
        Buffer<W> w(s.O * ldw);
        fill_uniform(x.data(), x.size());
        fill_uniform(w.data(), w.size());
        fill_uniform(b.data(), b.size());
        View<const float, 3> xv(x.data(), {s.C, s.H, s.W}, {s.H * ldx, ldx, 1});
        View<const W, 4> wv(w.data(), {s.O, s.C, s.kh, s.kw}, {ldw, s.kh * s.kw, s.kw, 1});
        View<const float, 1> bv = with_bias ? View<const float, 1>(b.data(), {s.O}) : View<const float, 1>{};
        const kernels::Conv2dParams p{s.stride, s.padding};
        kernels::conv2d(scalar_tag{}, xv, wv, bv, p, View<float, 3>(want.data(), {s.O, Ho, Wo}, {Ho * ldy, ldy, 1}));
        kernels::conv2d(Tag{}, xv, wv, bv, p, View<float, 3>(got.data(), {s.O, Ho, Wo}, {Ho * ldy, ldy, 1}));
        for (std::int64_t r = 0; r < s.O * Ho; ++r)
          DSVL_CHECK_CLOSE(got.data() + r * ldy, want.data() + r * ldy, Wo, 2.0 * static_cast<double>(K) * 0x1p-24, 0.0);
      }
    }
  };
  SUBCASE("f32 weight") { run(float{}); }
  SUBCASE("bf16 weight") { run(bf16{}); }
}

TEST_CASE("conv2d rejects inconsistent shapes") {
  std::vector<float> x(3 * 8 * 8), w(4 * 3 * 3 * 3), y(4 * 8 * 8);
  const kernels::Conv2dParams p{1, 1};
  // y must be (4, 8, 8) for a 3x3 kernel with padding 1.
  CHECK_THROWS_WITH_AS(kernels::conv2d(xsimd_tag<>{}, view<const float>(x.data(), {3, 8, 8}),
                                       view<const float>(w.data(), {4, 3, 3, 3}), View<const float, 1>{}, p,
                                       view(y.data(), {4, 7, 7})),
                       doctest::Contains("kernels::conv2d"), dsvl::Error);
  // w expects 2 input channels.
  CHECK_THROWS_WITH_AS(kernels::conv2d(scalar_tag{}, view<const float>(x.data(), {3, 8, 8}),
                                       view<const float>(w.data(), {4, 2, 3, 3}), View<const float, 1>{}, p,
                                       view(y.data(), {4, 8, 8})),
                       doctest::Contains("kernels::conv2d"), dsvl::Error);
  // A kernel larger than the padded input.
  CHECK_THROWS_WITH_AS(kernels::conv2d(hwy_tag{}, view<const float>(x.data(), {3, 2, 2}),
                                       view<const float>(w.data(), {1, 3, 5, 5}), View<const float, 1>{}, {1, 0},
                                       view(y.data(), {1, 1, 1})),
                       doctest::Contains("kernels::conv2d"), dsvl::Error);
}

// Fixtures from tools/reference/kernel_vision.py (torch.nn.functional.conv2d, f32 CPU).
// Tolerance: torch sums in its own order (oneDNN / im2col GEMM); with N(0, 1) inputs and weights
// scaled by 1/sqrt(K), |terms| < 1 and K <= 512, so both sums are within K * 2^-24 * max|x|*max|w|
// of the exact one; 1e-5 absolute is that bound for these data with margin (measured: 1.2e-6).
TEST_CASE("conv2d matches PyTorch") {
  const auto& cases = fixture("vision.json").at("conv2d");
  REQUIRE(!cases.empty());
  double worst = 0;
  for (const auto& tc : cases) {
    const std::int64_t C = tc.at("C"), H = tc.at("H"), W = tc.at("W"), O = tc.at("O"), kh = tc.at("kh"),
                       kw = tc.at("kw"), Ho = tc.at("Ho"), Wo = tc.at("Wo");
    CAPTURE(tc.at("name").get<std::string>());
    const auto x = floats(tc.at("x")), w = floats(tc.at("w"));
    const auto b = floats(tc.at("bias")), want = floats(tc.at("y"));
    std::vector<float> got(want.size());
    kernels::conv2d(scalar_tag{}, view<const float>(x.data(), {C, H, W}), view<const float>(w.data(), {O, C, kh, kw}),
                    b.empty() ? View<const float, 1>{} : view<const float>(b.data(), {O}),
                    {tc.at("stride").get<std::int64_t>(), tc.at("padding").get<std::int64_t>()},
                    view(got.data(), {O, Ho, Wo}));
    worst = std::max(worst, compare(got.data(), want.data(), O * Ho * Wo).max_abs);
    DSVL_CHECK_CLOSE(got.data(), want.data(), O * Ho * Wo, 1e-5, 0.0);
  }
  MESSAGE("conv2d vs torch: max abs error " << worst);
}
