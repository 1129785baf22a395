#pragma once
// GEMM on device memory, with the contract of kernels/gemm.hpp: c = a · wᵀ + bias, f32 products
// accumulated in f32.
//   f32 weights: cublasSgemm (cuBLAS's default math mode, so true f32, no TF32).
//   bf16 / f16 weights: cuBLAS has no GEMM with f32 activations and 16-bit weights, and narrowing
//   the activations would break the contract, so a tiled kernel widens each weight tile to f32 as
//   it loads it into shared memory (no scratch copy of w).

#include <algorithm>
#include <climits>
#include <cstdint>

#include "dsvl/kernels/cuda/common.cuh"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::gemm, cuda_tag> = true;

namespace detail {

template <class W>
void check_gemm_device(DeviceView<const float, 2> a, DeviceView<const W, 2> w, DeviceView<const float, 1> bias,
                       DeviceView<float, 2> c) {
  constexpr const char* where = "kernels::gemm(cuda)";
  check_rows_view(where, "a", a);
  check_rows_view(where, "w", w);
  check_rows_view(where, "c", c);
  DSVL_CHECK(w.shape(1) == a.shape(1), where, "a has K = ", a.shape(1), " columns, w (N, K) has ", w.shape(1));
  DSVL_CHECK(c.shape(0) == a.shape(0) && c.shape(1) == w.shape(0), where, "c is (", c.shape(0), ", ", c.shape(1),
             "), expected (M, N) = (", a.shape(0), ", ", w.shape(0), ")");
  DSVL_CHECK(bias.empty() || (bias.shape(0) == w.shape(0) && bias.inner_contiguous()), where, "bias has ",
             bias.shape(0), " elements, the output has ", w.shape(0), " columns");
  DSVL_CHECK(a.shape(0) <= INT_MAX && w.shape(0) <= INT_MAX && a.shape(1) <= INT_MAX, where,
             "M, N and K must fit in int");
  DSVL_CHECK(a.stride(0) <= INT_MAX && w.stride(0) <= INT_MAX && c.stride(0) <= INT_MAX, where,
             "row strides must fit in int");
}

// The leading dimension of a row-major matrix for cuBLAS and the tiled kernel: its row stride, or
// the row length when there is only one row (any stride is valid then).
template <class V>
std::int64_t leading_dim(const V& v) {
  return v.shape(0) <= 1 ? v.shape(1) : v.stride(0);
}

inline constexpr int kGemmTile = 64;   // rows of a and of w per block
inline constexpr int kGemmTileK = 16;  // k per shared-memory stage
inline constexpr int kGemmSide = 16;   // the block is kGemmSide x kGemmSide threads

// One (16, 16) block computes a 64 x 64 tile of c. Thread (tx, ty) owns rows ty + 16 i and columns
// tx + 16 j (i, j < 4), so neighbouring threads store neighbouring columns. Tiles are kept
// k-major in shared memory (one column of padding against bank conflicts); out-of-range elements
// load as 0 and add nothing.
template <class W>
__global__ void __launch_bounds__(kGemmSide* kGemmSide)
    gemm_tiled_kernel(const float* __restrict__ a, std::int64_t lda, const W* __restrict__ w, std::int64_t ldw,
                      const float* __restrict__ bias, float* __restrict__ c, std::int64_t ldc, int M, int N, int K) {
  constexpr int kPer = kGemmTile / kGemmSide;
  __shared__ float as[kGemmTileK][kGemmTile + 1];
  __shared__ float ws[kGemmTileK][kGemmTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y, t = ty * kGemmSide + tx;
  const int m0 = blockIdx.y * kGemmTile, n0 = blockIdx.x * kGemmTile;
  float acc[kPer][kPer] = {};
  for (int k0 = 0; k0 < K; k0 += kGemmTileK) {
    for (int e = t; e < kGemmTile * kGemmTileK; e += kGemmSide * kGemmSide) {
      const int r = e / kGemmTileK, kk = e % kGemmTileK, k = k0 + kk;
      as[kk][r] = (m0 + r < M && k < K) ? a[(m0 + r) * lda + k] : 0.0f;
      ws[kk][r] = (n0 + r < N && k < K) ? widen(w[(n0 + r) * ldw + k]) : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < kGemmTileK; ++kk) {
      float av[kPer], wv[kPer];
      for (int i = 0; i < kPer; ++i) av[i] = as[kk][ty + kGemmSide * i];
      for (int j = 0; j < kPer; ++j) wv[j] = ws[kk][tx + kGemmSide * j];
      for (int i = 0; i < kPer; ++i)
        for (int j = 0; j < kPer; ++j) acc[i][j] = fmaf(av[i], wv[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < kPer; ++i) {
    const int m = m0 + ty + kGemmSide * i;
    if (m >= M) break;
    for (int j = 0; j < kPer; ++j) {
      const int n = n0 + tx + kGemmSide * j;
      if (n < N) c[m * ldc + n] = bias != nullptr ? acc[i][j] + bias[n] : acc[i][j];
    }
  }
}

}  // namespace detail

// c = a · wᵀ + bias on the context's stream (asynchronous).  a: (M, K) f32.  w: (N, K) f32, bf16 or
// f16.  bias: (N) f32 or an empty View for none.  c: (M, N) f32, not overlapping a or w.  Rows may
// have any stride with a contiguous last dimension; with f32 weights, rows with more than one
// element must not overlap (cuBLAS needs row stride >= row length).  M, N or K may be 0.
template <class W>
void gemm(cuda_tag, DeviceView<const float, 2> a, DeviceView<const W, 2> w, DeviceView<const float, 1> bias,
          DeviceView<float, 2> c, CudaContext& ctx = CudaContext::thread_default()) {
  static_assert(detail::is_cuda_weight_v<W>, "kernels::gemm(cuda_tag): weights must be float, bf16 or f16");
  constexpr const char* where = "kernels::gemm(cuda)";
  detail::check_gemm_device(a, w, bias, c);
  const std::int64_t M = a.shape(0), N = w.shape(0), K = a.shape(1);
  if (M == 0 || N == 0) return;
  const float* b = bias.empty() ? nullptr : bias.data();
  const std::int64_t lda = detail::leading_dim(a), ldw = detail::leading_dim(w), ldc = detail::leading_dim(c);
  if constexpr (std::is_same_v<W, float>) {
    if (K == 0 || b != nullptr) {
      const std::int64_t blocks = std::min<std::int64_t>((M * N + 255) / 256, 4096);
      detail::broadcast_rows_kernel<float><<<static_cast<unsigned>(blocks), 256, 0, ctx.stream()>>>(c.data(), ldc, M,
                                                                                                   N, b);
      detail::check_launch(where);
    }
    if (K == 0) return;
    DSVL_CHECK(lda >= K && ldw >= K && ldc >= N, where, "rows of a, w and c must not overlap");
    // Row-major c (M, N) is column-major cᵀ (N, M) = w (N, K) · aᵀ (K, M); row-major w is
    // column-major wᵀ, hence op T on w and op N on a.
    const float alpha = 1.0f, beta = b != nullptr ? 1.0f : 0.0f;
    cublas_check(cublasSgemm(ctx.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M),
                             static_cast<int>(K), &alpha, w.data(), static_cast<int>(ldw), a.data(),
                             static_cast<int>(lda), &beta, c.data(), static_cast<int>(ldc)),
                 where);
  } else {
    DSVL_CHECK((M + detail::kGemmTile - 1) / detail::kGemmTile <= 65535, where, "M = ", M,
               " exceeds the grid limit of 65535 row tiles");
    const dim3 grid(static_cast<unsigned>((N + detail::kGemmTile - 1) / detail::kGemmTile),
                    static_cast<unsigned>((M + detail::kGemmTile - 1) / detail::kGemmTile));
    const dim3 block(detail::kGemmSide, detail::kGemmSide);
    detail::gemm_tiled_kernel<W><<<grid, block, 0, ctx.stream()>>>(a.data(), lda, w.data(), ldw, b, c.data(), ldc,
                                                                 static_cast<int>(M), static_cast<int>(N),
                                                                 static_cast<int>(K));
    detail::check_launch(where);
  }
}

}  // namespace dsvl::kernels
