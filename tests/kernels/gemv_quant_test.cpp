#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

namespace {

template <class F>
QuantMatrix<F> random_matrix(std::int64_t N, std::int64_t K) {
  return QuantMatrix<F>::from_rows(N, K, [&](std::int64_t, float* row) { fill_uniform(row, K); });
}

// The SIMD kernels round x to int8 per group (gemv.hpp): |got - want| <= sum_k |w x| 2 gamma +
// sum_k |w[k]| d_x(k) / 2, with d_x = max |x| / 127 over k's group and gamma as in gemv_test.cpp
// (the integer sums are exact; a few f32 roundings per group and the final sum are in gamma).
template <class Tag, class F>
void check_against_reference(std::int64_t N, std::int64_t K, ThreadPool& pool) {
  CAPTURE(N);
  CAPTURE(K);
  constexpr int G = F::group_size;
  const auto m = random_matrix<F>(N, K);
  const QuantView<F> w = m.view();
  Buffer<float> x(K), bias(N), got(N + 1), want(N);
  fill_uniform(x.data(), K);
  fill_uniform(bias.data(), N);
  std::vector<float> dx(static_cast<std::size_t>(w.groups()), 0.0f);
  for (std::int64_t k = 0; k < K; ++k) dx[k / G] = std::max(dx[k / G], std::fabs(x[k]) / 127.0f);
  const double u = std::ldexp(1.0, -24), n = static_cast<double>(K + 3 * w.groups() + 1);
  const double gamma = n * u / (1 - n * u);
  for (bool with_bias : {false, true}) {
    CAPTURE(with_bias);
    const View<const float, 1> bv = with_bias ? View<const float, 1>(bias.data(), {N}) : View<const float, 1>{};
    got[N] = 12345.0f;
    kernels::gemv(scalar_tag{}, View<const float, 1>(x.data(), {K}), w, bv, View<float, 1>(want.data(), {N}));
    kernels::gemv(Tag{}, View<const float, 1>(x.data(), {K}), w, bv, View<float, 1>(got.data(), {N}), pool);
    REQUIRE(got[N] == 12345.0f);
    for (std::int64_t j = 0; j < N; ++j) {
      double mag = with_bias ? std::fabs(bias[j]) : 0.0, rounding = 0.0;
      for (std::int64_t k = 0; k < K; ++k) {
        mag += std::fabs(double(x[k]) * w(j, k));
        rounding += std::fabs(w(j, k)) * dx[k / G] * (0.5 + 1e-6);
      }
      INFO("y[" << j << "] = " << got[j] << ", reference " << want[j]);
      REQUIRE(std::fabs(double(got[j]) - want[j]) <= 2 * gamma * mag + rounding);
    }
  }
}

}  // namespace

TEST_CASE_TEMPLATE("gemv over quantized weights matches the scalar reference", Tag, hwy_tag, xsimd_tag<>) {
  auto run = [](auto format) {
    using F = decltype(format);
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      ThreadPool pool(threads);
      for (std::int64_t N : {0, 1, 3, 4, 5, 17, 100})
        for (std::int64_t K : kLengths) check_against_reference<Tag, F>(N, K, pool);
      for (auto [N, K] : {std::pair<std::int64_t, std::int64_t>{300, 600}, {1001, 2048}, {5, 4099}})
        check_against_reference<Tag, F>(N, K, pool);
    }
  };
  SUBCASE("q8") { run(q8<32>{}); }
  SUBCASE("q4") { run(q4<32>{}); }
  SUBCASE("q8, groups of 64") { run(q8<64>{}); }
}

TEST_CASE("gemv reference over quantized weights: hand-computed values") {
  // w = [[1, -2], [0.5, 4]] in q8<32>: each row's largest magnitude is exact (127 d), the other
  // weight is rounded to a multiple of d.
  const float rows[2][2] = {{1.0f, -2.0f}, {0.5f, 4.0f}};
  const auto m = QuantMatrix<q8<32>>::from_rows(2, 2, [&](std::int64_t n, float* out) {
    out[0] = rows[n][0];
    out[1] = rows[n][1];
  });
  const float x[2] = {3.0f, 1.0f};
  float y[2];
  kernels::gemv(scalar_tag{}, View<const float, 1>(x, {2}), m.view(), View<const float, 1>{}, View<float, 1>(y, {2}));
  const auto w = m.view();
  CHECK(y[0] == doctest::Approx(3.0f * w(0, 0) + w(0, 1)));
  CHECK(y[1] == doctest::Approx(3.0f * w(1, 0) + w(1, 1)));
  CHECK(w(0, 1) == doctest::Approx(-2.0f).epsilon(1e-3));  // 127 d
  CHECK(w(0, 0) == doctest::Approx(64 * 2.0f / 127).epsilon(1e-3));  // 63.5 d rounds to 64 d (ties to even)
  CHECK(w(1, 0) == doctest::Approx(16 * 4.0f / 127).epsilon(1e-3));  // 15.875 d -> 16 d
}

// Whether Tag's quantized GEMM rounds a to int8 per group (the x86 int8 kernels, gemm.hpp).
template <class Tag>
constexpr bool gemm_rounds_activations() {
#ifdef DSVL_HWY_GEMM_INT8
  return std::is_same_v<Tag, hwy_tag>;
#else
  return false;
#endif
}

TEST_CASE_TEMPLATE("gemm over quantized weights matches the scalar reference", Tag, hwy_tag, xsimd_tag<>) {
  // The weights are the same dequantized values in both: the bound is gemm_test.cpp's, plus, where a
  // is rounded to int8 per group, the GEMV's rounding term sum_k |w| d_a(k) / 2 and the f32 roundings
  // of the int8 kernel's bias correction, under 512 u d_a |w| per product (1024 u below).
  auto run = [](auto format) {
    using F = decltype(format);
    constexpr int G = F::group_size;
    ThreadPool pool(2);
    for (const auto& shape : {std::array<std::int64_t, 3>{1, 1, 1}, {3, 5, 33}, {13, 40, 100}, {40, 70, 300},
                              {7, 129, 600}, {0, 3, 32}, {2, 0, 32}, {150, 70, 1100}}) {
      const std::int64_t M = shape[0], N = shape[1], K = shape[2];
      CAPTURE(M);
      CAPTURE(N);
      CAPTURE(K);
      const auto m = random_matrix<F>(N, K);
      Buffer<float> a(M * K), bias(N), got(M * N), want(M * N);
      fill_uniform(a.data(), M * K);
      fill_uniform(bias.data(), N);
      const View<const float, 2> av(a.data(), {M, K});
      kernels::gemm(scalar_tag{}, av, m.view(), View<const float, 1>(bias.data(), {N}), View<float, 2>(want.data(), {M, N}));
      kernels::gemm(Tag{}, av, m.view(), View<const float, 1>(bias.data(), {N}), View<float, 2>(got.data(), {M, N}), pool);
      const double u = std::ldexp(1.0, -24), n = static_cast<double>(K + 3 * (K + G - 1) / G + 1);
      const double gamma = n * u / (1 - n * u);
      for (std::int64_t i = 0; i < M; ++i) {
        std::vector<double> da(static_cast<std::size_t>((K + G - 1) / G), 0.0);
        if (gemm_rounds_activations<Tag>())
          for (std::int64_t k = 0; k < K; ++k) da[k / G] = std::max(da[k / G], std::fabs(a[i * K + k]) / 127.0);
        for (std::int64_t j = 0; j < N; ++j) {
          double mag = std::fabs(bias[j]), rounding = 0.0;
          for (std::int64_t k = 0; k < K; ++k) {
            mag += std::fabs(double(a[i * K + k]) * m.view()(j, k));
            rounding += std::fabs(m.view()(j, k)) * da[k / G] * (0.5 + 1024 * u);
          }
          INFO("c[" << i << ", " << j << "] = " << got[i * N + j] << ", reference " << want[i * N + j]);
          REQUIRE(std::fabs(double(got[i * N + j]) - want[i * N + j]) <= 2 * gamma * mag + rounding);
        }
      }
    }
  };
  SUBCASE("q8") { run(q8<32>{}); }
  SUBCASE("q4") { run(q4<32>{}); }
  SUBCASE("q8, groups of 64") { run(q8<64>{}); }
  SUBCASE("q8, groups of 128") { run(q8<128>{}); }
}

// Integers whose every group holds the largest code (127 for q8 and a, -8 for q4) have scales of
// exactly 1, so the codes are the values and every sum is an exact integer in f32: the int8 kernel
// must give the reference bit for bit (a dropped group or quad, a wrong bias would show).
TEST_CASE_TEMPLATE("gemm over quantized weights is exact on integer codes", Tag, hwy_tag, xsimd_tag<>) {
  auto run = [](auto format) {
    using F = decltype(format);
    constexpr int G = F::group_size;
    constexpr int top = F::bits == 8 ? 127 : -8;
    ThreadPool pool(2);
    std::uniform_int_distribution<int> wdist(F::bits == 8 ? -127 : -8, F::bits == 8 ? 127 : 7), adist(-127, 127);
    // The last: two nc blocks of columns per thread, several row and k blocks of a (packed once, reused).
    for (const auto& shape : {std::array<std::int64_t, 3>{13, 70, 96}, {37, 33, 600}, {6, 32, 32}, {150, 2100, 600}}) {
      const std::int64_t M = shape[0], N = shape[1], K = shape[2];
      CAPTURE(M);
      CAPTURE(N);
      CAPTURE(K);
      const auto m = QuantMatrix<F>::from_rows(N, K, [&](std::int64_t, float* row) {
        for (std::int64_t k = 0; k < K; ++k) row[k] = k % G == 3 ? float(top) : float(wdist(rng()));
      });
      Buffer<float> a(M * K), bias(N), got(M * N), want(M * N);
      for (std::int64_t i = 0; i < M * K; ++i) a[i] = (i % K) % G == 5 ? 127.0f : float(adist(rng()));
      for (std::int64_t j = 0; j < N; ++j) bias[j] = float(adist(rng()));
      const View<const float, 2> av(a.data(), {M, K});
      kernels::gemm(scalar_tag{}, av, m.view(), View<const float, 1>(bias.data(), {N}), View<float, 2>(want.data(), {M, N}));
      kernels::gemm(Tag{}, av, m.view(), View<const float, 1>(bias.data(), {N}), View<float, 2>(got.data(), {M, N}), pool);
      DSVL_CHECK_CLOSE(got.data(), want.data(), M * N, 0.0, 0.0);
    }
  };
  SUBCASE("q8") { run(q8<32>{}); }
  SUBCASE("q4") { run(q4<32>{}); }
  SUBCASE("q8, groups of 128") { run(q8<128>{}); }
}

// The largest group sums: every code of w the most negative of its format and every value of a
// +-127 (scales of 1, so exact in f32). The AVX2 q4 tile sums a group in int16 lanes, which these
// take to within 0.4% of 2^15 (32640: a lane's low half on the rows of -127, its high half on
// those of +127).
TEST_CASE_TEMPLATE("gemm over quantized weights is exact at the extreme codes", Tag, hwy_tag, xsimd_tag<>) {
  auto run = [](auto format) {
    using F = decltype(format);
    const float lowest = F::bits == 8 ? -127.0f : -8.0f;
    const std::int64_t M = 7, N = 40, K = 256;
    ThreadPool pool(2);
    const auto m = QuantMatrix<F>::from_rows(N, K, [&](std::int64_t, float* row) { std::fill_n(row, K, lowest); });
    Buffer<float> a(M * K), got(M * N), want(M * N);
    for (std::int64_t i = 0; i < M * K; ++i) a[i] = (i / K) % 2 == 0 ? 127.0f : -127.0f;
    const View<const float, 2> av(a.data(), {M, K});
    kernels::gemm(scalar_tag{}, av, m.view(), View<const float, 1>{}, View<float, 2>(want.data(), {M, N}));
    kernels::gemm(Tag{}, av, m.view(), View<const float, 1>{}, View<float, 2>(got.data(), {M, N}), pool);
    CHECK(want[0] == 127.0f * lowest * static_cast<float>(K));
    DSVL_CHECK_CLOSE(got.data(), want.data(), M * N, 0.0, 0.0);
  };
  SUBCASE("q8") { run(q8<32>{}); }
  SUBCASE("q4") { run(q4<32>{}); }
}

TEST_CASE_TEMPLATE("gemv over quantized weights rejects bad shapes", Tag, scalar_tag, hwy_tag) {
  const auto m = random_matrix<q8<32>>(3, 40);
  std::vector<float> x(41), y(4);
  CHECK_THROWS_WITH_AS(kernels::gemv(Tag{}, View<const float, 1>(x.data(), {41}), m.view(), View<const float, 1>{},
                                     View<float, 1>(y.data(), {3})),
                       doctest::Contains("K = 41"), dsvl::Error);
  CHECK_THROWS_WITH_AS(kernels::gemv(Tag{}, View<const float, 1>(x.data(), {40}), m.view(), View<const float, 1>{},
                                     View<float, 1>(y.data(), {4})),
                       doctest::Contains("N = 3"), dsvl::Error);
}
