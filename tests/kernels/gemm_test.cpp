#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

namespace {

const std::vector<std::int64_t> kDims = {0, 1, 3, 7, 16, 17, 33};
// Shapes larger than a register tile or a cache block (kc = 256, mc = 144, nc = 1024), odd everywhere.
const std::vector<std::array<std::int64_t, 3>> kLargeShapes = {
    {100, 257, 33}, {257, 100, 257}, {33, 300, 600}, {150, 1030, 17}, {7, 33, 1100}, {300, 50, 260},
    {150, 1100, 600}};  // the last: packed blocks of a reused across nc blocks (at one thread)

// Operands of c = a · wᵀ + bias with padded row strides and misaligned data.
template <class W>
struct GemmCase {
  std::int64_t M, N, K, lda, ldw, ldc;
  Buffer<float> a, bias, got, want;
  Buffer<W> w;
  GemmCase(std::int64_t m, std::int64_t n, std::int64_t k)
      : M(m), N(n), K(k), lda(k + 5), ldw(k + 3), ldc(n + 7), a(m * lda), bias(n), got(m * ldc), want(m * ldc),
        w(n * ldw) {}
  View<const float, 2> av() const { return {a.data(), {M, K}, {lda, 1}}; }
  View<const W, 2> wv() const { return {w.data(), {N, K}, {ldw, 1}}; }
  View<const float, 1> bv(bool with_bias) const { return with_bias ? View<const float, 1>(bias.data(), {N}) : View<const float, 1>{}; }
  View<float, 2> cv(Buffer<float>& c) const { return {c.data(), {M, N}, {ldc, 1}}; }
};

// Any order of f32 summation of K products plus a bias is within gamma_{K+1} (sum_k |a w| + |bias|)
// of the exact value (Higham, Accuracy and Stability, 3.1), gamma_n = n u / (1 - n u), u = 2^-24;
// two implementations therefore differ by at most twice that. bf16 weights are widened exactly, so
// the bound is the same for both weight types.
template <class W>
void check_within_bound(const GemmCase<W>& t, bool with_bias) {
  const double u = std::ldexp(1.0, -24), n = static_cast<double>(t.K + 1), gamma = n * u / (1 - n * u);
  for (std::int64_t m = 0; m < t.M; ++m) {
    for (std::int64_t j = 0; j < t.N; ++j) {
      double mag = with_bias ? std::fabs(t.bias[j]) : 0.0;
      for (std::int64_t k = 0; k < t.K; ++k) mag += std::fabs(double(t.a[m * t.lda + k]) * to_f32(t.w[j * t.ldw + k]));
      const double err = std::fabs(double(t.got[m * t.ldc + j]) - t.want[m * t.ldc + j]);
      if (!(err <= 2 * gamma * mag)) {
        INFO("c[" << m << ", " << j << "] = " << t.got[m * t.ldc + j] << ", reference " << t.want[m * t.ldc + j]
                  << ", bound " << 2 * gamma * mag);
        CHECK(err <= 2 * gamma * mag);
        return;
      }
    }
  }
}

template <class Tag, class W>
void check_against_reference(std::int64_t M, std::int64_t N, std::int64_t K, ThreadPool& pool) {
  CAPTURE(M);
  CAPTURE(N);
  CAPTURE(K);
  GemmCase<W> t(M, N, K);
  fill_uniform(t.a.data(), M * t.lda);
  fill_uniform(t.w.data(), N * t.ldw);
  fill_uniform(t.bias.data(), N);
  for (bool with_bias : {false, true}) {
    CAPTURE(with_bias);
    std::fill_n(t.got.data(), M * t.ldc, 12345.0f);  // the padding must survive
    std::fill_n(t.want.data(), M * t.ldc, 12345.0f);
    kernels::gemm(scalar_tag{}, t.av(), t.wv(), t.bv(with_bias), t.cv(t.want));
    kernels::gemm(Tag{}, t.av(), t.wv(), t.bv(with_bias), t.cv(t.got), pool);
    check_within_bound(t, with_bias);
    for (std::int64_t m = 0; m < M; ++m)
      for (std::int64_t j = N; j < t.ldc; ++j) REQUIRE(t.got[m * t.ldc + j] == 12345.0f);
  }
}

}  // namespace

TEST_CASE_TEMPLATE("gemm matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  auto run = [](auto weight_type) {
    using W = decltype(weight_type);
    for (int threads : {1, 2}) {
      CAPTURE(threads);
      ThreadPool pool(threads);
      for (std::int64_t M : kDims)
        for (std::int64_t N : kDims)
          for (std::int64_t K : kDims) check_against_reference<Tag, W>(M, N, K, pool);
      for (std::int64_t D : {100, 257}) {
        check_against_reference<Tag, W>(D, D, D, pool);
        check_against_reference<Tag, W>(1, D, D, pool);
      }
      for (auto [M, N, K] : kLargeShapes) check_against_reference<Tag, W>(M, N, K, pool);
    }
  };
  SUBCASE("f32 weight") { run(float{}); }
  SUBCASE("bf16 weight") { run(bf16{}); }
}

// Small integers make every product and partial sum exact in f32, so any summation order must
// give the reference bit for bit: this catches a misplaced or dropped term that a tolerance could hide.
TEST_CASE_TEMPLATE("gemm is exact on small integers", Tag, xsimd_tag<>, hwy_tag) {
  auto run = [](auto weight_type) {
    using W = decltype(weight_type);
    ThreadPool pool(2);
    std::uniform_int_distribution<int> dist(-3, 3);
    for (const auto& shape : {std::array<std::int64_t, 3>{37, 1100, 600}, {290, 65, 300}, {13, 5, 1}}) {
      const std::int64_t M = shape[0], N = shape[1], K = shape[2];
      CAPTURE(M);
      CAPTURE(N);
      CAPTURE(K);
      GemmCase<W> t(M, N, K);
      for (std::int64_t i = 0; i < M * t.lda; ++i) t.a[i] = static_cast<float>(dist(rng()));
      for (std::int64_t i = 0; i < N * t.ldw; ++i) t.w[i] = from_f32<W>(static_cast<float>(dist(rng())));
      for (std::int64_t i = 0; i < N; ++i) t.bias[i] = static_cast<float>(dist(rng()));
      kernels::gemm(scalar_tag{}, t.av(), t.wv(), t.bv(true), t.cv(t.want));
      kernels::gemm(Tag{}, t.av(), t.wv(), t.bv(true), t.cv(t.got), pool);
      for (std::int64_t m = 0; m < M; ++m) DSVL_CHECK_CLOSE(t.got.data() + m * t.ldc, t.want.data() + m * t.ldc, N, 0.0, 0.0);
    }
  };
  SUBCASE("f32 weight") { run(float{}); }
  SUBCASE("bf16 weight") { run(bf16{}); }
}

// hwy_bf16_tag rounds a to bf16 (policy/tags.hpp) and must otherwise be the reference: on the rounded
// a, within the bound above (bf16 products are exact in f32, as vdpbf16ps takes them).
TEST_CASE("gemm of hwy_bf16_tag is the reference on bf16-rounded activations") {
  auto check = [](std::int64_t M, std::int64_t N, std::int64_t K, ThreadPool& pool) {
    CAPTURE(M);
    CAPTURE(N);
    CAPTURE(K);
    GemmCase<bf16> t(M, N, K), r(M, N, K);  // r: the same operands with a rounded to bf16
    fill_uniform(t.a.data(), M * t.lda);
    fill_uniform(t.w.data(), N * t.ldw);
    fill_uniform(t.bias.data(), N);
    for (std::int64_t i = 0; i < M * t.lda; ++i) r.a[i] = bf16::from_float(t.a[i]).to_float();
    std::copy_n(t.w.data(), N * t.ldw, r.w.data());
    std::copy_n(t.bias.data(), N, r.bias.data());
    for (bool with_bias : {false, true}) {
      CAPTURE(with_bias);
      std::fill_n(r.got.data(), M * t.ldc, 12345.0f);
      kernels::gemm(hwy_bf16_tag{}, t.av(), t.wv(), t.bv(with_bias), r.cv(r.got), pool);
      kernels::gemm(scalar_tag{}, r.av(), r.wv(), r.bv(with_bias), r.cv(r.want));
      check_within_bound(r, with_bias);
      for (std::int64_t m = 0; m < M; ++m)
        for (std::int64_t j = N; j < t.ldc; ++j) REQUIRE(r.got[m * t.ldc + j] == 12345.0f);
    }
  };
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    ThreadPool pool(threads);
    for (std::int64_t M : kDims)
      for (std::int64_t N : kDims)
        for (std::int64_t K : kDims) check(M, N, K, pool);
    for (auto [M, N, K] : kLargeShapes) check(M, N, K, pool);
  }
}

TEST_CASE("gemm reference matches hand-computed values") {
  // a (2, 3), w (4, 3): c = a · wᵀ + bias, worked out by hand.
  std::vector<float> a = {1, 2, 3, -1, 0.5f, 2};
  std::vector<bf16> w;
  for (float v : {1.f, 0.f, 0.f, 0.f, 1.f, 0.f, 1.f, 1.f, 1.f, 2.f, -1.f, 0.5f}) w.push_back(bf16::from_float(v));
  std::vector<float> bias = {0.5f, -1, 0, 10}, c(8);
  kernels::gemm(scalar_tag{}, view<const float>(a.data(), {2, 3}), view<const bf16>(w.data(), {4, 3}),
                view<const float>(bias.data(), {4}), view(c.data(), {2, 4}));
  CHECK(c == std::vector<float>{1.5f, 1, 6, 11.5f, -0.5f, -0.5f, 1.5f, 8.5f});
  kernels::gemm(scalar_tag{}, view<const float>(a.data(), {2, 3}), view<const bf16>(w.data(), {4, 3}),
                View<const float, 1>{}, view(c.data(), {2, 4}));
  CHECK(c == std::vector<float>{1, 2, 6, 1.5f, -1, 0.5f, 1.5f, -1.5f});
}

TEST_CASE_TEMPLATE("gemm with K = 0 writes the bias", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> a(1), w(1), bias = {1, 2, 3}, c(6, 7.0f);
  kernels::gemm(Tag{}, View<const float, 2>(a.data(), {2, 0}), View<const float, 2>(w.data(), {3, 0}),
                view<const float>(bias.data(), {3}), view(c.data(), {2, 3}));
  CHECK(c == std::vector<float>{1, 2, 3, 1, 2, 3});
  kernels::gemm(Tag{}, View<const float, 2>(a.data(), {2, 0}), View<const float, 2>(w.data(), {3, 0}),
                View<const float, 1>{}, view(c.data(), {2, 3}));
  CHECK(c == std::vector<float>(6, 0.0f));
}

TEST_CASE_TEMPLATE("gemm rejects bad shapes", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> a(64), w(64), bias(8), c(64);
  auto call = [&](std::array<std::int64_t, 2> as, std::array<std::int64_t, 2> ws, std::int64_t nb,
                  std::array<std::int64_t, 2> cs, std::int64_t a_col_stride = 1) {
    kernels::gemm(Tag{}, View<const float, 2>(a.data(), as, {as[1] * a_col_stride, a_col_stride}),
                  View<const float, 2>(w.data(), ws), nb ? view<const float>(bias.data(), {nb}) : View<const float, 1>{},
                  View<float, 2>(c.data(), cs));
  };
  const auto named = doctest::Contains("kernels::gemm");
  CHECK_NOTHROW(call({2, 3}, {4, 3}, 4, {2, 4}));
  CHECK_THROWS_WITH_AS(call({2, 3}, {4, 2}, 4, {2, 4}), named, dsvl::Error);  // K differs
  CHECK_THROWS_WITH_AS(call({2, 3}, {4, 3}, 4, {2, 5}), named, dsvl::Error);  // c is not (M, N)
  CHECK_THROWS_WITH_AS(call({2, 3}, {4, 3}, 4, {3, 4}), named, dsvl::Error);
  CHECK_THROWS_WITH_AS(call({2, 3}, {4, 3}, 3, {2, 4}), named, dsvl::Error);  // bias is not (N)
  CHECK_THROWS_WITH_AS(call({2, 3}, {4, 3}, 4, {2, 4}, 2), named, dsvl::Error);  // a's last dim strided
}
