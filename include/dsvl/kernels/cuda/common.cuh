#pragma once
// Internals shared by the CUDA kernels: weight widening on the device, block-wide reductions,
// launch limits and argument checks for device views.

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <climits>
#include <cstdint>
#include <type_traits>

#include "dsvl/core/device.hpp"
#include "dsvl/core/dtype.hpp"
#include "dsvl/kernels/check.hpp"

namespace dsvl::kernels::detail {

template <class W>
inline constexpr bool is_cuda_weight_v = std::is_same_v<W, float> || std::is_same_v<W, bf16> || std::is_same_v<W, f16>;

__device__ __forceinline__ float widen(float x) { return x; }
__device__ __forceinline__ float widen(bf16 x) { return __uint_as_float(static_cast<unsigned>(x.bits) << 16); }
__device__ __forceinline__ float widen(f16 x) { return __half2float(__ushort_as_half(x.bits)); }

// Threads per block of the row kernels (one block per row): a multiple of the warp size.
inline constexpr int kRowThreads = 256;

struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Reduces v over a block of kThreads threads (a multiple of 32) and returns the result to every
// thread: a butterfly within each warp, then every thread folds the per-warp partials in order.
template <int kThreads, class Op>
__device__ float block_reduce(float v, Op op) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "block_reduce: whole warps, at most 1024 threads");
  __shared__ float partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  __syncthreads();  // a previous call may still be reading `partial`
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  v = partial[0];
  for (int i = 1; i < kThreads / 32; ++i) v = op(v, partial[i]);
  return v;
}

// Sets every row of the (M, N) matrix c to `row` (N elements), or to zeros when `row` is null.
template <class T>
__global__ void broadcast_rows_kernel(T* c, std::int64_t ldc, std::int64_t M, std::int64_t N, const T* row) {
  const std::int64_t total = M * N;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t m = i / N, n = i % N;
    c[m * ldc + n] = row != nullptr ? row[n] : T{};
  }
}

// The number of rows a one-block-per-row kernel can take (the grid's x limit).
inline void check_row_grid(const char* where, std::int64_t rows) {
  DSVL_CHECK(rows <= INT_MAX, where, rows, " rows exceed the CUDA grid limit of ", INT_MAX);
}

// Throws the launch error, if any, of the kernel just launched.
inline void check_launch(const char* where) { cuda_check(cudaGetLastError(), where); }

}  // namespace dsvl::kernels::detail
