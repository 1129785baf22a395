#pragma once
// RMSNorm on device memory, with the contract of kernels/rms_norm.hpp:
//   y[t, :] = w * x[t, :] / sqrt(mean_i x[t, i]^2 + eps)
// One block per row: a strided sum of squares, then a warp-shuffle block reduction.

#include <cstdint>

#include "dsvl/kernels/cuda/common.cuh"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::rms_norm, cuda_tag> = true;

namespace detail {

template <class W>
void check_rms_norm_device(DeviceView<const float, 2> x, DeviceView<const W, 1> w, DeviceView<float, 2> y) {
  constexpr const char* where = "kernels::rms_norm(cuda)";
  check_rows_view(where, "x", x);
  check_rows_view(where, "y", y);
  check_same_shape(where, "x", x, "y", y);
  DSVL_CHECK(w.shape(0) == x.shape(1) && w.inner_contiguous(), where, "weight has ", w.shape(0),
             " elements, rows have ", x.shape(1));
  check_row_grid(where, x.shape(0));
}

// x and y may alias: each thread rereads only the elements it writes, after the reduction.
template <int kThreads, class W>
__global__ void __launch_bounds__(kThreads)
    rms_norm_rows_kernel(const float* x, std::int64_t ldx, const W* __restrict__ w, float eps, float* y,
                         std::int64_t ldy, std::int64_t D) {
  const float* xr = x + blockIdx.x * ldx;
  float* yr = y + blockIdx.x * ldy;
  float ss = 0.0f;
  for (std::int64_t i = threadIdx.x; i < D; i += kThreads) ss = fmaf(xr[i], xr[i], ss);
  ss = block_reduce<kThreads>(ss, SumOp{});
  const float r = 1.0f / sqrtf(ss / static_cast<float>(D) + eps);
  for (std::int64_t i = threadIdx.x; i < D; i += kThreads) yr[i] = widen(w[i]) * (xr[i] * r);
}

}  // namespace detail

// RMSNorm of each row on the context's stream (asynchronous).  x, y: (T, D) f32, last dimension
// contiguous, any row stride, y may alias x.  w: (D), f32, bf16 or f16.  T or D may be 0.
template <class W>
void rms_norm(cuda_tag, DeviceView<const float, 2> x, DeviceView<const W, 1> w, float eps, DeviceView<float, 2> y,
              CudaContext& ctx = CudaContext::thread_default()) {
  static_assert(detail::is_cuda_weight_v<W>, "kernels::rms_norm(cuda_tag): weights must be float, bf16 or f16");
  detail::check_rms_norm_device(x, w, y);
  if (x.empty()) return;
  detail::rms_norm_rows_kernel<detail::kRowThreads, W>
      <<<static_cast<unsigned>(x.shape(0)), detail::kRowThreads, 0, ctx.stream()>>>(
          x.data(), x.stride(0), w.data(), eps, y.data(), y.stride(0), x.shape(1));
  detail::check_launch("kernels::rms_norm(cuda)");
}

}  // namespace dsvl::kernels
