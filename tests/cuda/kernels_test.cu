// CUDA kernels against the CPU scalar reference, over sizes 0, 1, odd, several tiles and blocks,
// with padded row strides. Every output buffer starts as NaN, and its padding must still be NaN
// afterwards, so a write outside the view is caught.
#include "kernels/kernel_test.hpp"

#include "dsvl/cuda.hpp"

using namespace dsvl;
using namespace dsvl::test;

namespace {

// A (rows, cols) matrix with row stride cols + pad, held on the host and on the device.
template <class T>
struct Mirrored {
  Mirrored(std::int64_t r, std::int64_t c, std::int64_t pad)
      : rows(r), cols(c), ld(c + pad), host(static_cast<std::size_t>(r * (c + pad)), from_f32<T>(NAN)),
        dev({r * (c + pad)}) {}

  HostView<T, 2> h() { return HostView<T, 2>(host.data(), {rows, cols}, {ld, 1}); }
  DeviceView<T, 2> d() { return DeviceView<T, 2>(dev.data(), {rows, cols}, {ld, 1}); }
  void fill(float lo = -1.0f, float hi = 1.0f) {
    for (std::int64_t r = 0; r < rows; ++r) fill_uniform(host.data() + r * ld, cols, lo, hi);
  }
  void upload() { copy(HostView<const T, 1>(host.data(), {n()}), dev.view()); }
  std::vector<T> download() {
    std::vector<T> out(host.size());
    copy(DeviceView<const T, 1>(dev.view()), HostView<T, 1>(out.data(), {n()}));
    return out;
  }
  std::int64_t n() const { return static_cast<std::int64_t>(host.size()); }

  std::int64_t rows, cols, ld;
  std::vector<T> host;
  DeviceTensor<T, 1> dev;
};

// Rows of `got` match `want` within atol + rtol * max|want row|, and the padding is still NaN.
void check_rows(const std::vector<float>& got, const std::vector<float>& want, std::int64_t rows, std::int64_t cols,
                std::int64_t ld, double atol, double rtol) {
  for (std::int64_t r = 0; r < rows; ++r) {
    CAPTURE(r);
    DSVL_CHECK_CLOSE(got.data() + r * ld, want.data() + r * ld, cols, atol, rtol);
    for (std::int64_t c = cols; c < ld; ++c) CHECK(std::isnan(got[static_cast<std::size_t>(r * ld + c)]));
  }
}

template <class W>
void check_gemm(std::int64_t M, std::int64_t N, std::int64_t K, bool with_bias) {
  CAPTURE(M);
  CAPTURE(N);
  CAPTURE(K);
  CAPTURE(with_bias);
  Mirrored<float> a(M, K, 3), bias(1, with_bias ? N : 0, 0), c(M, N, 2);
  Mirrored<W> w(N, K, 1);
  a.fill();
  w.fill();
  bias.fill();
  a.upload();
  w.upload();
  bias.upload();
  c.upload();
  std::vector<float> want = c.host;
  // An empty bias view means none.
  const HostView<const float, 1> bias_h(bias.host.data(), {bias.cols});
  const DeviceView<const float, 1> bias_d(bias.dev.data(), {bias.cols});
  kernels::gemm(scalar_tag{}, HostView<const float, 2>(a.h()), HostView<const W, 2>(w.h()), bias_h,
                HostView<float, 2>(want.data(), {M, N}, {c.ld, 1}));
  kernels::gemm(cuda_tag{}, DeviceView<const float, 2>(a.d()), DeviceView<const W, 2>(w.d()), bias_d, c.d());
  // Sums of K products of values in [-1, 1] in another order (cuBLAS blocking, FMA): the error grows
  // with K; 1e-6 * K is far above it and far below an indexing mistake.
  check_rows(c.download(), want, M, N, c.ld, 1e-6 * static_cast<double>(K + 1), 1e-6);
}

template <class W>
void check_rms_norm(std::int64_t T, std::int64_t D, bool in_place) {
  CAPTURE(T);
  CAPTURE(D);
  CAPTURE(in_place);
  Mirrored<float> x(T, D, 3), y(T, D, 1);
  Mirrored<W> w(1, D, 0);
  x.fill();
  w.fill(0.5f, 1.5f);
  x.upload();
  y.upload();
  w.upload();
  std::vector<float> want = x.host;
  const HostView<const W, 1> w_h(w.host.data(), {D});
  const DeviceView<const W, 1> w_d(w.dev.data(), {D});
  kernels::rms_norm(scalar_tag{}, HostView<const float, 2>(x.h()), w_h, 1e-6f,
                    HostView<float, 2>(want.data(), {T, D}, {x.ld, 1}));
  Mirrored<float>& out = in_place ? x : y;
  kernels::rms_norm(cuda_tag{}, DeviceView<const float, 2>(x.d()), w_d, 1e-6f, out.d());
  // The sums of squares are added in another order: relative error ~ sqrt(D) * 2^-24, well below 1e-5.
  if (in_place) {
    check_rows(out.download(), want, T, D, x.ld, 0.0, 1e-5);
  } else {
    std::vector<float> want_y = y.host;
    for (std::int64_t t = 0; t < T; ++t) std::copy_n(want.data() + t * x.ld, D, want_y.data() + t * y.ld);
    check_rows(out.download(), want_y, T, D, y.ld, 0.0, 1e-5);
  }
}

void check_softmax(std::int64_t R, std::int64_t S, float scale, kernels::SoftmaxMask mask) {
  CAPTURE(R);
  CAPTURE(S);
  CAPTURE(scale);
  CAPTURE(mask.causal_offset);
  CAPTURE(mask.valid);
  Mirrored<float> x(R, S, 2);
  x.fill(-8.0f, 8.0f);
  for (std::int64_t s = 0; s < S; s += 3)
    if (R > 1) x.host[static_cast<std::size_t>(x.ld + s)] = -INFINITY;  // row 1: some -inf entries
  if (R > 2) std::fill_n(x.host.data() + 2 * x.ld, S, -INFINITY);      // row 2: all -inf -> zeros
  x.upload();
  std::vector<float> want = x.host;
  kernels::softmax(scalar_tag{}, HostView<float, 2>(want.data(), {R, S}, {x.ld, 1}), scale, mask);
  kernels::softmax(cuda_tag{}, x.d(), scale, mask);
  const std::vector<float> got = x.download();
  // Outputs are at most 1; exp and the reordered sum cost a few ulp each.
  check_rows(got, want, R, S, x.ld, 1e-7, 1e-5);
  for (std::int64_t r = 0; r < R; ++r)
    for (std::int64_t s = 0; s < S; ++s) {
      const auto i = static_cast<std::size_t>(r * x.ld + s);
      if (want[i] == 0.0f) CHECK(got[i] == 0.0f);  // masked and -inf entries are exactly 0
    }
}

}  // namespace

TEST_CASE("the CUDA policy's native ops") {
  CHECK(kernels::native_v<kernels::op::gemm, cuda_tag>);
  CHECK(kernels::native_v<kernels::op::rms_norm, cuda_tag>);
  CHECK(kernels::native_v<kernels::op::softmax, cuda_tag>);
  CHECK_FALSE(kernels::native_v<kernels::op::layer_norm, cuda_tag>);
}

TEST_CASE("CUDA kernels check their arguments before touching the device") {
  using F2 = DeviceView<const float, 2>;
  using F1 = DeviceView<const float, 1>;
  using Out = DeviceView<float, 2>;
  CHECK_THROWS_WITH_AS(kernels::gemm(cuda_tag{}, F2(nullptr, {2, 3}), F2(nullptr, {4, 5}), F1{}, Out(nullptr, {2, 4})),
                       doctest::Contains("kernels::gemm(cuda)"), Error);
  CHECK_THROWS_WITH_AS(kernels::gemm(cuda_tag{}, F2(nullptr, {2, 3}), F2(nullptr, {4, 3}), F1(nullptr, {3}),
                                     Out(nullptr, {2, 4})),
                       doctest::Contains("bias has 3 elements"), Error);
  CHECK_THROWS_WITH_AS(kernels::rms_norm(cuda_tag{}, F2(nullptr, {2, 3}), F1(nullptr, {4}), 1e-6f,
                                         Out(nullptr, {2, 3})),
                       doctest::Contains("kernels::rms_norm(cuda)"), Error);
  CHECK_THROWS_WITH_AS(kernels::softmax(cuda_tag{}, Out(nullptr, {3, 4}, {1, 3})),
                       doctest::Contains("kernels::softmax(cuda)"), Error);
  // Empty problems return before any CUDA call.
  CHECK_NOTHROW(kernels::gemm(cuda_tag{}, F2(nullptr, {0, 3}), F2(nullptr, {4, 3}), F1{}, Out(nullptr, {0, 4})));
  CHECK_NOTHROW(kernels::rms_norm(cuda_tag{}, F2(nullptr, {0, 3}), F1(nullptr, {3}), 1e-6f, Out(nullptr, {0, 3})));
  CHECK_NOTHROW(kernels::softmax(cuda_tag{}, Out(nullptr, {5, 0})));
}

TEST_CASE("gemm(cuda) matches the scalar reference" * doctest::test_suite("cuda device")) {
  auto run = [](auto weight_type) {
    using W = decltype(weight_type);
    for (std::int64_t M : {0, 1, 7, 65})
      for (std::int64_t N : {0, 1, 33, 130})
        for (std::int64_t K : {0, 1, 17, 300})
          for (bool with_bias : {false, true}) check_gemm<W>(M, N, K, with_bias);
  };
  SUBCASE("f32 weight (cuBLAS)") { run(float{}); }
  SUBCASE("bf16 weight (tiled)") { run(bf16{}); }
  SUBCASE("f16 weight (tiled)") { run(f16{}); }
}

TEST_CASE("rms_norm(cuda) matches the scalar reference" * doctest::test_suite("cuda device")) {
  auto run = [](auto weight_type) {
    using W = decltype(weight_type);
    for (std::int64_t T : {0, 1, 3, 70})
      for (std::int64_t D : {0, 1, 7, 31, 33, 100, 257, 1000, 4097})
        for (bool in_place : {false, true}) check_rms_norm<W>(T, D, in_place);
  };
  SUBCASE("f32 weight") { run(float{}); }
  SUBCASE("bf16 weight") { run(bf16{}); }
  SUBCASE("f16 weight") { run(f16{}); }
}

TEST_CASE("softmax(cuda) matches the scalar reference" * doctest::test_suite("cuda device")) {
  const kernels::SoftmaxMask masks[] = {{}, {0, -1}, {3, -1}, {-1, 5}, {-1, 0}, {2, 4}};
  for (std::int64_t R : {0, 1, 5, 33})
    for (std::int64_t S : {0, 1, 7, 33, 256, 1025})
      for (float scale : {1.0f, 0.125f})
        for (const auto& mask : masks) check_softmax(R, S, scale, mask);
}
