#pragma once
// Device memory for the CUDA policy (included by <dsvl/cuda.hpp>; needs the CUDA runtime and
// cuBLAS headers, not nvcc):
//   cuda_check / cublas_check  turn CUDA and cuBLAS status codes into dsvl::Error;
//   CudaContext                the stream that kernels and copies run on, plus a cuBLAS handle;
//   DeviceTensor<T, Rank>      an owning, zero-initialised, move-only cudaMalloc'd tensor;
//   copy, to_device, to_host   the only ways data moves between host and device views.
// The memory space is part of View's type (View<T, R, Memory::cuda> = DeviceView<T, R>), so a
// host kernel cannot take device memory, a CUDA kernel cannot take host memory, and host code
// cannot index device elements.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <type_traits>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/view.hpp"

namespace dsvl {

// Throws dsvl::Error(where, "<error name>: <error description>") unless `e` is cudaSuccess.
inline void cuda_check(cudaError_t e, const char* where) {
  if (e != cudaSuccess) [[unlikely]]
    fail(where, cudaGetErrorName(e), ": ", cudaGetErrorString(e));
}

// Throws dsvl::Error(where, "cuBLAS <status name>: <status description>") unless CUBLAS_STATUS_SUCCESS.
inline void cublas_check(cublasStatus_t s, const char* where) {
  if (s != CUBLAS_STATUS_SUCCESS) [[unlikely]]
    fail(where, "cuBLAS ", cublasGetStatusName(s), ": ", cublasGetStatusString(s));
}

// Where the CUDA kernels run: a stream (not owned) and a cuBLAS handle bound to it, created on
// first use. The CUDA counterpart of ThreadPool: every CUDA kernel and copy takes one as its last
// parameter, defaulting to thread_default(). Kernels are asynchronous on the stream; copies wait
// for it. Not thread-safe: use one context per thread.
class CudaContext {
 public:
  // The default stream is the calling thread's default stream (cudaStreamPerThread).
  explicit CudaContext(cudaStream_t stream = cudaStreamPerThread) noexcept : stream_(stream) {}
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;
  ~CudaContext() {
    if (cublas_ != nullptr) cublasDestroy(cublas_);
  }

  cudaStream_t stream() const noexcept { return stream_; }

  cublasHandle_t cublas() {
    if (cublas_ == nullptr) {
      cublasHandle_t h = nullptr;
      cublas_check(cublasCreate(&h), "CudaContext::cublas");
      if (const cublasStatus_t s = cublasSetStream(h, stream_); s != CUBLAS_STATUS_SUCCESS) {
        cublasDestroy(h);
        cublas_check(s, "CudaContext::cublas");
      }
      cublas_ = h;
    }
    return cublas_;
  }

  // Waits for everything queued on the stream; reports the first asynchronous error.
  void synchronize() const { cuda_check(cudaStreamSynchronize(stream_), "CudaContext::synchronize"); }

  // The calling thread's context, on its default stream.
  static CudaContext& thread_default() {
    thread_local CudaContext ctx;
    return ctx;
  }

 private:
  cudaStream_t stream_;
  cublasHandle_t cublas_ = nullptr;
};

namespace detail {
struct CudaFree {
  void operator()(void* p) const noexcept { cudaFree(p); }
};
}  // namespace detail

// An owning, contiguous tensor in the memory of the current CUDA device (PyTorch shape order),
// zero-initialised on the context's stream. Move-only. A tensor with no elements allocates nothing.
template <class T, std::size_t Rank>
class DeviceTensor {
  static_assert(std::is_trivially_copyable_v<T>, "dsvl::DeviceTensor holds trivially copyable elements only");

 public:
  using Shape = std::array<std::int64_t, Rank>;

  DeviceTensor() = default;
  explicit DeviceTensor(const Shape& shape, CudaContext& ctx = CudaContext::thread_default()) : shape_(shape) {
    std::int64_t n = 1;
    for (auto s : shape) {
      DSVL_CHECK(s >= 0, "DeviceTensor", "negative extent ", s);
      n *= s;
    }
    size_ = n;
    if (n == 0) return;
    const std::size_t bytes = sizeof(T) * static_cast<std::size_t>(n);
    void* p = nullptr;
    cuda_check(cudaMalloc(&p, bytes), "DeviceTensor");
    data_.reset(static_cast<T*>(p));
    cuda_check(cudaMemsetAsync(p, 0, bytes, ctx.stream()), "DeviceTensor");
  }
  DeviceTensor(std::initializer_list<std::int64_t> shape, CudaContext& ctx = CudaContext::thread_default())
      : DeviceTensor(to_shape(shape), ctx) {}

  DeviceTensor(DeviceTensor&&) noexcept = default;
  DeviceTensor& operator=(DeviceTensor&&) noexcept = default;

  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  const Shape& shape() const noexcept { return shape_; }
  std::int64_t shape(std::size_t i) const noexcept { return shape_[i]; }
  std::int64_t size() const noexcept { return size_; }

  DeviceView<T, Rank> view() noexcept { return DeviceView<T, Rank>(data_.get(), shape_); }
  DeviceView<const T, Rank> view() const noexcept { return DeviceView<const T, Rank>(data_.get(), shape_); }
  operator DeviceView<T, Rank>() noexcept { return view(); }              // NOLINT
  operator DeviceView<const T, Rank>() const noexcept { return view(); }  // NOLINT

 private:
  static Shape to_shape(std::initializer_list<std::int64_t> s) {
    DSVL_CHECK(s.size() == Rank, "DeviceTensor", "shape has ", s.size(), " extents, the tensor has rank ", Rank);
    Shape out{};
    std::copy(s.begin(), s.end(), out.begin());
    return out;
  }

  std::unique_ptr<T, detail::CudaFree> data_;
  Shape shape_{};
  std::int64_t size_ = 0;
};

namespace detail {
// A view seen as `rows` rows of `cols` packed elements, `pitch` elements apart.
struct CopyRows {
  std::int64_t rows, cols, pitch;
};

template <class V>
CopyRows copy_rows(const V& v, const char* name) {
  constexpr std::size_t R = V::rank;
  const std::int64_t cols = v.shape(R - 1);
  std::int64_t rows = 1;
  for (std::size_t d = 0; d + 1 < R; ++d) rows *= v.shape(d);
  DSVL_CHECK(v.inner_contiguous(), "dsvl::copy", name, " must have a contiguous last dimension");
  for (std::size_t d = 0; d + 2 < R; ++d)
    DSVL_CHECK(v.shape(d) <= 1 || v.stride(d) == v.stride(d + 1) * v.shape(d + 1), "dsvl::copy", name,
               ": leading dimensions must collapse into one stride");
  std::int64_t pitch = cols;
  if constexpr (R > 1)
    if (rows > 1) pitch = v.stride(R - 2);
  DSVL_CHECK(pitch >= cols, "dsvl::copy", name, " has overlapping or reversed rows (row stride ", pitch,
             ", row length ", cols, ")");
  return {rows, cols, pitch};
}
}  // namespace detail

// Copies `src` into `dst`, one on the host and the other on the device, of the same element type
// and shape; returns when the copy is complete. Each view must have a contiguous last dimension
// and leading dimensions that collapse into one row stride (any contiguous view, any row slice).
template <class S, std::size_t RS, Memory MS, class D, std::size_t RD, Memory MD>
void copy(View<S, RS, MS> src, View<D, RD, MD> dst, CudaContext& ctx = CudaContext::thread_default()) {
  static_assert(MS != MD, "dsvl::copy: one view must be in host memory and the other in device memory");
  static_assert(std::is_same_v<std::remove_const_t<S>, D>,
                "dsvl::copy: dst must be a non-const view of src's element type");
  static_assert(RS == RD, "dsvl::copy: src and dst must have the same rank");
  if constexpr (MS != MD && std::is_same_v<std::remove_const_t<S>, D> && RS == RD) {
    DSVL_CHECK(src.shape() == dst.shape(), "dsvl::copy", "src and dst must have the same shape");
    if (src.empty()) return;
    const detail::CopyRows s = detail::copy_rows(src, "src"), d = detail::copy_rows(dst, "dst");
    constexpr cudaMemcpyKind kind = MS == Memory::host ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost;
    constexpr std::size_t E = sizeof(D);
    const std::size_t width = E * static_cast<std::size_t>(s.cols);
    if (s.pitch == s.cols && d.pitch == d.cols)
      cuda_check(cudaMemcpyAsync(dst.data(), src.data(), width * static_cast<std::size_t>(s.rows), kind, ctx.stream()),
                 "dsvl::copy");
    else
      cuda_check(cudaMemcpy2DAsync(dst.data(), E * static_cast<std::size_t>(d.pitch), src.data(),
                                   E * static_cast<std::size_t>(s.pitch), width, static_cast<std::size_t>(s.rows),
                                   kind, ctx.stream()),
                 "dsvl::copy");
    ctx.synchronize();
  }
}

// A new device tensor holding a copy of a host view.
template <class T, std::size_t R>
DeviceTensor<std::remove_const_t<T>, R> to_device(HostView<T, R> src,
                                                  CudaContext& ctx = CudaContext::thread_default()) {
  DeviceTensor<std::remove_const_t<T>, R> out(src.shape(), ctx);
  copy(src, out.view(), ctx);
  return out;
}

// A new host tensor holding a copy of a device view.
template <class T, std::size_t R>
Tensor<std::remove_const_t<T>, R> to_host(DeviceView<T, R> src, CudaContext& ctx = CudaContext::thread_default()) {
  Tensor<std::remove_const_t<T>, R> out(src.shape());
  copy(src, out.view(), ctx);
  return out;
}

}  // namespace dsvl
