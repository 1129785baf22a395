#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

namespace {
const kernels::InterpParams kAllModes[] = {
    {kernels::InterpMode::bilinear, false, false}, {kernels::InterpMode::bilinear, true, false},
    {kernels::InterpMode::bilinear, false, true},  {kernels::InterpMode::bilinear, true, true},
    {kernels::InterpMode::bicubic, false, false},  {kernels::InterpMode::bicubic, true, false},
    {kernels::InterpMode::bicubic, false, true},   {kernels::InterpMode::bicubic, true, true},
};
}  // namespace

// Tolerance: each output is sum_i wh[i] * sum_j ww[j] * x with the same weights; the SIMD
// versions may run the two passes in the other order and fuse multiply-adds, so only the
// rounding of at most taps_h + taps_w additions differs. Inputs are in [-1, 1] and the weights'
// absolute sums are below 1.6 per axis, so a few ulps of 1: 1e-6 absolute leaves a wide margin.
TEST_CASE_TEMPLATE("interpolate matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  const std::int64_t sizes[][4] = {{1, 1, 1, 1},  {1, 1, 3, 5},   {5, 7, 1, 1},   {7, 9, 13, 4},
                                   {17, 3, 5, 33}, {33, 31, 9, 17}, {64, 64, 96, 96}, {40, 50, 15, 19},
                                   {6, 16, 6, 16}, {12, 100, 29, 257}};
  for (const auto& p : kAllModes) {
    for (const auto& s : sizes) {
      for (std::int64_t C : {0, 1, 3}) {
        const std::int64_t H = s[0], W = s[1], Ho = s[2], Wo = s[3], ldx = W + 3, ldy = Wo + 5;
        CAPTURE(static_cast<int>(p.mode));
        CAPTURE(p.align_corners);
        CAPTURE(p.antialias);
        CAPTURE(H);
        CAPTURE(W);
        CAPTURE(Ho);
        CAPTURE(Wo);
        CAPTURE(C);
        Buffer<float> x(C * H * ldx), got(C * Ho * ldy), want(C * Ho * ldy);
        fill_uniform(x.data(), x.size());
        View<const float, 3> xv(x.data(), {C, H, W}, {H * ldx, ldx, 1});
        kernels::interpolate(scalar_tag{}, xv, p, View<float, 3>(want.data(), {C, Ho, Wo}, {Ho * ldy, ldy, 1}));
        kernels::interpolate(Tag{}, xv, p, View<float, 3>(got.data(), {C, Ho, Wo}, {Ho * ldy, ldy, 1}));
        for (std::int64_t r = 0; r < C * Ho; ++r) DSVL_CHECK_CLOSE(got.data() + r * ldy, want.data() + r * ldy, Wo, 1e-6, 0.0);
      }
    }
  }
}

TEST_CASE("interpolate keeps an image of the same size and rejects empty sizes") {
  std::vector<float> x(2 * 3 * 5), y(2 * 3 * 5);
  fill_uniform(x.data(), static_cast<std::int64_t>(x.size()));
  for (const auto& p : kAllModes) {
    kernels::interpolate(scalar_tag{}, view<const float>(x.data(), {2, 3, 5}), p, view(y.data(), {2, 3, 5}));
    CHECK(y == x);
  }
  CHECK_THROWS_WITH_AS(kernels::interpolate(hwy_tag{}, view<const float>(x.data(), {2, 3, 5}), {},
                                            view(y.data(), {2, 0, 5})),
                       doctest::Contains("kernels::interpolate"), dsvl::Error);
}

// Fixtures from tools/reference/kernel_vision.py (torch.nn.functional.interpolate, f32 CPU).
// Tolerance: the same weights in the same f32 / f64 steps, but whether multiply-adds are fused
// depends on the compiler and instruction set (torch's and ours), which moves each cubic weight
// by a few ulps (its polynomial cancels) and each sum by an ulp or two: with up to 16 taps and
// |x| < 5 (N(0, 1) inputs) that stays below 1e-5. Measured: 7.2e-7 with FMA (AVX2, AVX-512),
// 2.4e-6 without (SSE4.2 build), torch 2.15.
TEST_CASE("interpolate matches PyTorch") {
  const auto& cases = fixture("vision.json").at("interpolate");
  REQUIRE(cases.size() == 72);
  double worst = 0;
  for (const auto& tc : cases) {
    kernels::InterpParams p;
    p.mode = tc.at("mode") == "bicubic" ? kernels::InterpMode::bicubic : kernels::InterpMode::bilinear;
    p.align_corners = tc.at("align_corners");
    p.antialias = tc.at("antialias");
    const std::int64_t C = tc.at("C"), H = tc.at("H"), W = tc.at("W"), Ho = tc.at("Ho"), Wo = tc.at("Wo");
    CAPTURE(tc.at("mode").get<std::string>());
    CAPTURE(p.align_corners);
    CAPTURE(p.antialias);
    CAPTURE(H);
    CAPTURE(W);
    CAPTURE(Ho);
    CAPTURE(Wo);
    const auto x = floats(tc.at("x")), want = floats(tc.at("y"));
    std::vector<float> got(want.size());
    kernels::interpolate(scalar_tag{}, view<const float>(x.data(), {C, H, W}), p, view(got.data(), {C, Ho, Wo}));
    const auto d = compare(got.data(), want.data(), C * Ho * Wo);
    worst = std::max(worst, d.max_abs);
    DSVL_CHECK_CLOSE(got.data(), want.data(), C * Ho * Wo, 1e-5, 0.0);
  }
  MESSAGE("interpolate vs torch: max abs error " << worst);
}
