#pragma once
// Row softmax in place on device memory, with the contract (and SoftmaxMask) of
// kernels/softmax.hpp: masked entries become 0, a row with no unmasked entry or only -inf ones
// becomes all zeros. One block per row: the unmasked columns of row r are the prefix [0, n_r), so
// the block takes the maximum over it, writes exp(scale * x - max) and its sum, then scales.

#include <cmath>
#include <cstdint>

#include "dsvl/kernels/cuda/common.cuh"
#include "dsvl/kernels/native.hpp"
#include "dsvl/kernels/softmax.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::softmax, cuda_tag> = true;

namespace detail {

template <int kThreads>
__global__ void __launch_bounds__(kThreads)
    softmax_rows_kernel(float* x, std::int64_t ldx, std::int64_t S, float scale, SoftmaxMask mask) {
  const std::int64_t r = blockIdx.x;
  float* xr = x + r * ldx;
  std::int64_t n = S;
  if (mask.valid >= 0 && mask.valid < n) n = mask.valid;
  if (mask.causal_offset >= 0 && r + mask.causal_offset + 1 < n) n = r + mask.causal_offset + 1;
  for (std::int64_t s = n + threadIdx.x; s < S; s += kThreads) xr[s] = 0.0f;
  float m = -INFINITY;
  for (std::int64_t s = threadIdx.x; s < n; s += kThreads) m = fmaxf(m, scale * xr[s]);
  m = block_reduce<kThreads>(m, MaxOp{});
  if (m == -INFINITY) {  // the same answer in every thread of the block
    for (std::int64_t s = threadIdx.x; s < n; s += kThreads) xr[s] = 0.0f;
    return;
  }
  float sum = 0.0f;
  for (std::int64_t s = threadIdx.x; s < n; s += kThreads) {
    const float e = expf(scale * xr[s] - m);
    xr[s] = e;
    sum += e;
  }
  sum = block_reduce<kThreads>(sum, SumOp{});
  const float inv = 1.0f / sum;
  for (std::int64_t s = threadIdx.x; s < n; s += kThreads) xr[s] *= inv;
}

}  // namespace detail

// Softmax of scale * x over each row, in place, on the context's stream (asynchronous).
// x: (R, S) f32, last dimension contiguous, any row stride. R or S may be 0.
inline void softmax(cuda_tag, DeviceView<float, 2> x, float scale = 1.0f, SoftmaxMask mask = {},
                    CudaContext& ctx = CudaContext::thread_default()) {
  constexpr const char* where = "kernels::softmax(cuda)";
  detail::check_rows_view(where, "x", x);
  detail::check_row_grid(where, x.shape(0));
  if (x.empty()) return;
  detail::softmax_rows_kernel<detail::kRowThreads>
      <<<static_cast<unsigned>(x.shape(0)), detail::kRowThreads, 0, ctx.stream()>>>(x.data(), x.stride(0), x.shape(1),
                                                                                    scale, mask);
  detail::check_launch(where);
}

}  // namespace dsvl::kernels
