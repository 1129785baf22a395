#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

namespace {

// y = w · x + bias over weights with padded, misaligned rows; the bound is gemm's (gemm_test.cpp):
// |got - want| <= 2 gamma_{K+1} (sum_k |w x| + |bias|), gamma_n = n u / (1 - n u), u = 2^-24,
// whatever order each implementation sums in; bf16 weights are widened exactly.
template <class Tag, class W>
void check_against_reference(std::int64_t N, std::int64_t K, ThreadPool& pool) {
  CAPTURE(N);
  CAPTURE(K);
  const std::int64_t ldw = K + 3;
  Buffer<float> x(K), bias(N), got(N + 1), want(N);
  Buffer<W> w(N * ldw);
  fill_uniform(x.data(), K);
  fill_uniform(w.data(), N * ldw);
  fill_uniform(bias.data(), N);
  View<const W, 2> wv(w.data(), {N, K}, {ldw, 1});
  const double u = std::ldexp(1.0, -24), n = static_cast<double>(K + 1), gamma = n * u / (1 - n * u);
  for (bool with_bias : {false, true}) {
    CAPTURE(with_bias);
    const View<const float, 1> bv = with_bias ? View<const float, 1>(bias.data(), {N}) : View<const float, 1>{};
    got[N] = 12345.0f;
    kernels::gemv(scalar_tag{}, View<const float, 1>(x.data(), {K}), wv, bv, View<float, 1>(want.data(), {N}));
    kernels::gemv(Tag{}, View<const float, 1>(x.data(), {K}), wv, bv, View<float, 1>(got.data(), {N}), pool);
    REQUIRE(got[N] == 12345.0f);
    for (std::int64_t j = 0; j < N; ++j) {
      double mag = with_bias ? std::fabs(bias[j]) : 0.0;
      for (std::int64_t k = 0; k < K; ++k) mag += std::fabs(double(x[k]) * to_f32(w[j * ldw + k]));
      INFO("y[" << j << "] = " << got[j] << ", reference " << want[j]);
      REQUIRE(std::fabs(double(got[j]) - want[j]) <= 2 * gamma * mag);
    }
  }
}

}  // namespace

TEST_CASE_TEMPLATE("gemv matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  auto run = [](auto weight_type) {
    using W = decltype(weight_type);
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      ThreadPool pool(threads);
      for (std::int64_t N : {0, 1, 3, 4, 5, 7, 16, 17, 33, 100, 257})
        for (std::int64_t K : kLengths) check_against_reference<Tag, W>(N, K, pool);
      for (auto [N, K] : {std::pair<std::int64_t, std::int64_t>{300, 600}, {1001, 2048}, {5, 4099}})
        check_against_reference<Tag, W>(N, K, pool);
    }
  };
  SUBCASE("f32 weight") { run(float{}); }
  SUBCASE("bf16 weight") { run(bf16{}); }
}

TEST_CASE("gemv reference matches hand-computed values") {
  std::vector<float> x = {1, 2, 3}, bias = {0.5f, -1}, y(2);
  std::vector<bf16> w;
  for (float v : {1.f, -1.f, 2.f, 0.5f, 0.25f, 0.f}) w.push_back(bf16::from_float(v));
  kernels::gemv(scalar_tag{}, view<const float>(x.data(), {3}), view<const bf16>(w.data(), {2, 3}),
                view<const float>(bias.data(), {2}), view(y.data(), {2}));
  CHECK(y == std::vector<float>{5.5f, 0.0f});
}

TEST_CASE_TEMPLATE("gemv with K = 0 writes the bias", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> x(1), w(1), bias = {1, 2, 3}, y(3, 7.0f);
  kernels::gemv(Tag{}, View<const float, 1>(x.data(), {0}), View<const float, 2>(w.data(), {3, 0}),
                view<const float>(bias.data(), {3}), view(y.data(), {3}));
  CHECK(y == std::vector<float>{1, 2, 3});
  kernels::gemv(Tag{}, View<const float, 1>(x.data(), {0}), View<const float, 2>(w.data(), {3, 0}),
                View<const float, 1>{}, view(y.data(), {3}));
  CHECK(y == std::vector<float>(3, 0.0f));
}

TEST_CASE_TEMPLATE("gemv rejects bad shapes", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> x(16), w(64), bias(8), y(16);
  auto call = [&](std::int64_t k, std::array<std::int64_t, 2> ws, std::int64_t nb, std::int64_t n, std::int64_t x_stride = 1) {
    kernels::gemv(Tag{}, View<const float, 1>(x.data(), {k}, {x_stride}), View<const float, 2>(w.data(), ws),
                  nb ? view<const float>(bias.data(), {nb}) : View<const float, 1>{}, view(y.data(), {n}));
  };
  const auto named = doctest::Contains("kernels::gemv");
  CHECK_NOTHROW(call(3, {4, 3}, 4, 4));
  CHECK_THROWS_WITH_AS(call(2, {4, 3}, 4, 4), named, dsvl::Error);  // K differs
  CHECK_THROWS_WITH_AS(call(3, {4, 3}, 4, 5), named, dsvl::Error);  // y is not (N)
  CHECK_THROWS_WITH_AS(call(3, {4, 3}, 3, 4), named, dsvl::Error);  // bias is not (N)
  CHECK_THROWS_WITH_AS(call(3, {4, 3}, 4, 4, 2), named, dsvl::Error);  // x is strided
}
