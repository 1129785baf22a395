#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

namespace {
// Bitwise equality, so NaN == NaN and -0.0 != +0.0.
bool same_bits(const float* a, const float* b, std::int64_t n) {
  return n == 0 || std::memcmp(a, b, sizeof(float) * static_cast<std::size_t>(n)) == 0;
}

// Equal as numbers, NaN equal to NaN: torch may order tied -0.0 and +0.0 differently.
bool same_values(const std::vector<float>& a, const std::vector<float>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](float p, float q) { return p == q || (std::isnan(p) && std::isnan(q)); });
}

}  // namespace

// Selection, not arithmetic: values and indices must equal the reference exactly, ties and NaN
// included.
TEST_CASE_TEMPLATE("topk matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  for (std::int64_t T : {0, 1, 5}) {
    for (std::int64_t E : kLengths) {
      for (std::int64_t k : {std::int64_t{0}, std::int64_t{1}, std::int64_t{2}, std::int64_t{6}, E}) {
        if (k > E) continue;
        for (int data : {0, 1, 2}) {  // distinct values; many ties; ties with NaN, +-inf and signed zeros
          CAPTURE(T);
          CAPTURE(E);
          CAPTURE(k);
          CAPTURE(data);
          const std::int64_t ldx = E + 3, ldv = k + 2;
          Buffer<float> x(T * ldx), got_v(T * ldv), want_v(T * ldv);
          Buffer<std::int32_t> got_i(T * ldv), want_i(T * ldv);
          fill_uniform(x.data(), x.size());
          for (std::int64_t i = 0; data > 0 && i < x.size(); ++i) x[i] = std::round(x[i] * 3.0f) / 3.0f;
          if (data == 2) {
            for (std::int64_t t = 0; t < T; ++t) {
              float* row = x.data() + t * ldx;
              for (std::int64_t e = 0; e < E; e += 5) row[e] = NAN;
              for (std::int64_t e = 1; e < E; e += 7) row[e] = (e % 2) ? INFINITY : -INFINITY;
              for (std::int64_t e = 2; e < E; e += 3) row[e] = (e % 2) ? -0.0f : 0.0f;
            }
          }
          View<const float, 2> xv(x.data(), {T, E}, {ldx, 1});
          kernels::topk(scalar_tag{}, xv, k, View<float, 2>(want_v.data(), {T, k}, {ldv, 1}),
                        View<std::int32_t, 2>(want_i.data(), {T, k}, {ldv, 1}));
          kernels::topk(Tag{}, xv, k, View<float, 2>(got_v.data(), {T, k}, {ldv, 1}),
                        View<std::int32_t, 2>(got_i.data(), {T, k}, {ldv, 1}));
          for (std::int64_t t = 0; t < T; ++t) {
            CHECK(same_bits(got_v.data() + t * ldv, want_v.data() + t * ldv, k));
            CHECK(std::equal(got_i.data() + t * ldv, got_i.data() + t * ldv + k, want_i.data() + t * ldv));
          }
        }
      }
    }
  }
}

TEST_CASE("topk orders ties by index and NaN first") {
  const std::vector<float> x = {1, 3, NAN, 3, -INFINITY, 2, INFINITY, NAN};
  std::vector<float> v(8);
  std::vector<std::int32_t> i(8);
  kernels::topk(scalar_tag{}, view<const float>(x.data(), {1, 8}), 8, view(v.data(), {1, 8}), view(i.data(), {1, 8}));
  CHECK(i == std::vector<std::int32_t>{2, 7, 6, 1, 3, 5, 0, 4});
  CHECK(v[2] == INFINITY);
  CHECK(v[7] == -INFINITY);
}

TEST_CASE("topk rejects k outside [0, E]") {
  std::vector<float> x(6), v(8);
  std::vector<std::int32_t> i(8);
  CHECK_THROWS_WITH_AS(kernels::topk(hwy_tag{}, view<const float>(x.data(), {2, 3}), 4, view(v.data(), {2, 4}),
                                     view(i.data(), {2, 4})),
                       doctest::Contains("kernels::topk"), dsvl::Error);
  CHECK_THROWS_WITH_AS(kernels::topk(scalar_tag{}, view<const float>(x.data(), {2, 3}), -1, view(v.data(), {2, 0}),
                                     view(i.data(), {2, 0})),
                       doctest::Contains("kernels::topk"), dsvl::Error);
}

// Fixtures from tools/reference/kernel_vision.py: values from torch.topk, exact (NaN included);
// indices from a stable descending torch.sort, which has the documented tie order.
TEST_CASE("topk matches PyTorch") {
  const auto& cases = fixture("vision.json").at("topk");
  REQUIRE(!cases.empty());
  for (const auto& tc : cases) {
    const std::int64_t T = tc.at("T"), E = tc.at("E"), k = tc.at("k");
    CAPTURE(T);
    CAPTURE(E);
    CAPTURE(k);
    const auto x = floats(tc.at("x")), want_v = floats(tc.at("values"));
    const auto want_i = tc.at("indices").get<std::vector<std::int32_t>>();
    std::vector<float> v(static_cast<std::size_t>(T * k));
    std::vector<std::int32_t> i(static_cast<std::size_t>(T * k));
    kernels::topk(scalar_tag{}, view<const float>(x.data(), {T, E}), k, view(v.data(), {T, k}),
                  view(i.data(), {T, k}));
    CHECK(same_values(v, want_v));
    CHECK(i == want_i);
  }
}
