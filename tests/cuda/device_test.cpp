// Device memory: DeviceTensor, copies between host and device views, CUDA and cuBLAS errors.
// Compiled by the host compiler: core/device.hpp needs the CUDA headers, not nvcc.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "dsvl/core/device.hpp"
#include "dsvl/core/dtype.hpp"

using namespace dsvl;

TEST_CASE("cuda_check and cublas_check throw dsvl::Error naming the place and the error") {
  CHECK_NOTHROW(cuda_check(cudaSuccess, "here"));
  try {
    cuda_check(cudaErrorInvalidValue, "kernels::gemm(cuda)");
    FAIL("no exception");
  } catch (const Error& e) {
    CHECK(e.where() == "kernels::gemm(cuda)");
    CHECK(e.problem().find("cudaErrorInvalidValue") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(cublas_check(CUBLAS_STATUS_NOT_INITIALIZED, "CudaContext::cublas"),
                       doctest::Contains("CUBLAS_STATUS_NOT_INITIALIZED"), Error);
}

TEST_CASE("an empty DeviceTensor allocates nothing and empty copies touch no device") {
  DeviceTensor<float, 2> d({0, 3});
  CHECK(d.data() == nullptr);
  CHECK(d.size() == 0);
  CHECK(d.view().shape() == std::array<std::int64_t, 2>{0, 3});
  Tensor<float, 2> h({0, 3});
  CHECK_NOTHROW(copy(h.view(), d.view()));
  CHECK_NOTHROW(copy(d.view(), h.view()));
  DeviceTensor<float, 2> moved = std::move(d);
  CHECK(moved.shape(1) == 3);
}

TEST_CASE("copy checks shapes and layouts before any transfer") {
  std::vector<float> host(12);
  const DeviceView<float, 2> dev(nullptr, {3, 4});
  CHECK_THROWS_WITH_AS(copy(HostView<float, 2>(host.data(), {4, 3}), dev), doctest::Contains("same shape"), Error);
  // A transposed host view: its last dimension is not contiguous.
  const HostView<const float, 2> transposed(host.data(), {3, 4}, {1, 3});
  CHECK_THROWS_WITH_AS(copy(transposed, dev), doctest::Contains("contiguous last dimension"), Error);
  // Rows that overlap cannot be one 2D copy.
  const HostView<const float, 2> overlapping(host.data(), {3, 4}, {2, 1});
  CHECK_THROWS_WITH_AS(copy(overlapping, dev), doctest::Contains("overlapping"), Error);
  using Matrix = DeviceTensor<float, 2>;
  CHECK_THROWS_WITH_AS(Matrix({2, -1}), doctest::Contains("negative extent"), Error);
}

TEST_CASE("host -> device -> host round trips keep every element" * doctest::test_suite("cuda device")) {
  SUBCASE("contiguous, rank 3, bf16") {
    Tensor<bf16, 3> h({2, 3, 5});
    for (std::int64_t i = 0; i < h.size(); ++i) h.data()[i] = bf16::from_float(static_cast<float>(i) - 7.5f);
    const DeviceTensor<bf16, 3> d = to_device(h.view());
    const Tensor<bf16, 3> back = to_host(d.view());
    for (std::int64_t i = 0; i < h.size(); ++i) CHECK(back.data()[i] == h.data()[i]);
  }
  SUBCASE("padded rows on both sides (2D copies)") {
    const std::int64_t R = 5, C = 7, ld_host = 9, ld_dev = 8;
    std::vector<float> host(R * ld_host);
    std::iota(host.begin(), host.end(), 1.0f);
    DeviceTensor<float, 1> storage({R * ld_dev});
    const DeviceView<float, 2> dev(storage.data(), {R, C}, {ld_dev, 1});
    copy(HostView<const float, 2>(host.data(), {R, C}, {ld_host, 1}), dev);
    std::vector<float> out(R * ld_host, NAN);
    copy(DeviceView<const float, 2>(dev), HostView<float, 2>(out.data(), {R, C}, {ld_host, 1}));
    for (std::int64_t r = 0; r < R; ++r)
      for (std::int64_t c = 0; c < ld_host; ++c) {
        CAPTURE(r);
        CAPTURE(c);
        if (c < C) CHECK(out[r * ld_host + c] == host[r * ld_host + c]);
        else CHECK(std::isnan(out[r * ld_host + c]));  // padding untouched
      }
    // The device padding was zero-initialised and never written.
    const Tensor<float, 1> raw = to_host(storage.view());
    for (std::int64_t r = 0; r < R; ++r) CHECK(raw(r * ld_dev + C) == 0.0f);
  }
}

TEST_CASE("a CudaContext on its own stream orders copies on it" * doctest::test_suite("cuda device")) {
  cudaStream_t stream = nullptr;
  cuda_check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "test");
  {
    CudaContext ctx(stream);
    CHECK(ctx.stream() == stream);
    CHECK(ctx.cublas() != nullptr);
    std::vector<float> h(1000);
    std::iota(h.begin(), h.end(), 0.0f);
    const DeviceTensor<float, 1> d = to_device(HostView<const float, 1>(h.data(), {1000}), ctx);
    const Tensor<float, 1> back = to_host(d.view(), ctx);
    for (std::int64_t i = 0; i < 1000; ++i) CHECK(back(i) == h[static_cast<std::size_t>(i)]);
  }
  cuda_check(cudaStreamDestroy(stream), "test");
}
