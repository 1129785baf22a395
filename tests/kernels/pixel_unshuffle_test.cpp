#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

// A permutation: every policy must reproduce the reference bit for bit.
TEST_CASE_TEMPLATE("pixel_unshuffle matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  for (std::int64_t r : {1, 2, 3, 4}) {
    for (std::int64_t C : {0, 1, 3}) {
      for (std::int64_t n : {0, 1, 3, 5, 9, 14, 17, 33}) {
       for (bool packed_y : {false, true}) {  // packed (Ho, Wo) planes of y are one gather segment each
        const std::int64_t H = n * r, W = (n + 2) * r, ldx = W + 5, ldy = W / r + (packed_y ? 0 : 3);
        CAPTURE(packed_y);
        CAPTURE(r);
        CAPTURE(C);
        CAPTURE(n);
        Buffer<float> x(C * H * ldx), got(C * r * r * n * ldy), want(C * r * r * n * ldy);
        fill_uniform(x.data(), x.size());
        fill_uniform(got.data(), got.size());
        for (std::int64_t i = 0; i < got.size(); ++i) want[i] = got[i];
        View<const float, 3> xv(x.data(), {C, H, W}, {H * ldx, ldx, 1});
        const View<float, 3>::Shape ys{C * r * r, n, W / r}, yst{n * ldy, ldy, 1};
        kernels::pixel_unshuffle(scalar_tag{}, xv, r, View<float, 3>(want.data(), ys, yst));
        kernels::pixel_unshuffle(Tag{}, xv, r, View<float, 3>(got.data(), ys, yst));
        CHECK(std::equal(got.data(), got.data() + got.size(), want.data()));
       }
      }
    }
  }
}

TEST_CASE("pixel_unshuffle rejects sizes that are not multiples of r") {
  std::vector<float> x(2 * 5 * 4), y(2 * 4 * 2 * 2);
  CHECK_THROWS_WITH_AS(kernels::pixel_unshuffle(xsimd_tag<>{}, view<const float>(x.data(), {2, 5, 4}), 2,
                                                view(y.data(), {8, 2, 2})),
                       doctest::Contains("kernels::pixel_unshuffle"), dsvl::Error);
  CHECK_THROWS_WITH_AS(kernels::pixel_unshuffle(scalar_tag{}, view<const float>(x.data(), {2, 4, 4}), 0,
                                                view(y.data(), {8, 2, 2})),
                       doctest::Contains("kernels::pixel_unshuffle"), dsvl::Error);
}

// Fixtures from tools/reference/kernel_vision.py (torch.nn.functional.pixel_unshuffle): exact.
TEST_CASE("pixel_unshuffle matches PyTorch") {
  const auto& cases = fixture("vision.json").at("pixel_unshuffle");
  REQUIRE(!cases.empty());
  for (const auto& tc : cases) {
    const std::int64_t C = tc.at("C"), H = tc.at("H"), W = tc.at("W"), r = tc.at("r");
    CAPTURE(C);
    CAPTURE(H);
    CAPTURE(W);
    CAPTURE(r);
    const auto x = floats(tc.at("x")), want = floats(tc.at("y"));
    std::vector<float> got(want.size());
    kernels::pixel_unshuffle(scalar_tag{}, view<const float>(x.data(), {C, H, W}), r,
                             view(got.data(), {C * r * r, H / r, W / r}));
    CHECK(got == want);
  }
}
