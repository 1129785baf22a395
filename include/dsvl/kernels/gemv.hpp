#pragma once
// GEMV: a Linear layer applied to one row (torch.nn.functional.linear on a single token):
//   y[n] = bias[n] + sum_k w[n, k] * x[k]          y = w · x + bias
// x: (K) f32, contiguous.  w: (N, K), f32 or bf16 (PyTorch Linear weight layout), rows of any
// stride with a contiguous last dimension; or a quantized matrix (QuantView of q8<G> or q4<G>).  bias: (N) f32, or an empty View{} for none.
// y: (N) f32, contiguous; it must not overlap x or w.  Pointers need no alignment.  Products are
// accumulated in f32 (bf16 weights are widened exactly).  N or K may be 0; K = 0 gives y = bias
// (or 0).  The work is memory-bound: the SIMD policies stream each row of w once, several rows at
// a time with independent accumulators, rows split across the pool's threads (for_row_blocks).
// For a quantized w the reference sums the dequantized weights times x in f32; the SIMD kernels
// also round x to int8 per group of G (one f32 scale per group) and multiply integers, so they
// differ from it by at most sum_k |w[n, k]| d_x(k) / 2, d_x the scale of x's group.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/quant.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/gemm.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

namespace detail {
template <class WView>
void check_gemv(View<const float, 1> x, const WView& w, View<const float, 1> bias, View<float, 1> y) {
  constexpr const char* where = "kernels::gemv";
  check_rows_view(where, "x", x);
  if constexpr (requires { w.inner_contiguous(); }) check_rows_view(where, "w", w);
  check_rows_view(where, "y", y);
  DSVL_CHECK(w.shape(1) == x.shape(0), where, "x has K = ", x.shape(0), " elements, w (N, K) has ", w.shape(1),
             " columns");
  DSVL_CHECK(y.shape(0) == w.shape(0), where, "y has ", y.shape(0), " elements, w has N = ", w.shape(0), " rows");
  check_bias(where, bias, w.shape(0));
}

// Runs rows(blk0, blk1) over the blocks of R rows of an (N, K) matrix-vector product (the last
// block may be short). Threads take chunks of blocks from a shared counter (about 8 per thread,
// each at least ~32K weights), so a thread that the OS delays does not hold up the others; a small
// product stays on the caller.
template <class Rows>
void for_row_blocks(std::int64_t N, std::int64_t K, std::int64_t R, ThreadPool& pool, Rows&& rows) {
  const std::int64_t blocks = (N + R - 1) / R;
  const std::int64_t min_chunk = std::max<std::int64_t>(1, (std::int64_t{1} << 15) / (std::max<std::int64_t>(K, 1) * R));
  const std::int64_t chunk = std::max(min_chunk, blocks / (8 * std::int64_t{pool.size()}));
  const std::int64_t chunks = (blocks + chunk - 1) / chunk;
  if (chunks <= 1 || pool.size() == 1) {
    rows(std::int64_t{0}, blocks);
    return;
  }
  std::atomic<std::int64_t> next{0};
  pool.run([&](int) {
    for (std::int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < chunks;)
      rows(i * chunk, std::min(blocks, (i + 1) * chunk));
  });
}

// y[n] = dot of row n (+ bias[n]) over blocks of R rows, spread by for_row_blocks:
// dot(n, out, std::integral_constant<int, Rows>{}) writes the sums of rows n.. n + Rows into out,
// for Rows = R and Rows = 1 (the rows past the last full block).
template <int R, class Dot>
void gemv_row_blocks(std::int64_t N, std::int64_t K, View<const float, 1> bias, View<float, 1> y, ThreadPool& pool,
                     Dot&& dot) {
  const float* b = bias.empty() ? nullptr : bias.data();
  for_row_blocks(N, K, R, pool, [&](std::int64_t blk0, std::int64_t blk1) {
    const std::int64_t n1 = std::min(N, blk1 * R);
    std::int64_t n = blk0 * R;
    float out[R];
    for (; n + R <= n1; n += R) {
      dot(n, out, std::integral_constant<int, R>{});
      for (int r = 0; r < R; ++r) y.data()[n + r] = b ? out[r] + b[n + r] : out[r];
    }
    for (; n < n1; ++n) {
      dot(n, out, std::integral_constant<int, 1>{});
      y.data()[n] = b ? out[0] + b[n] : out[0];
    }
  });
}

// The row loop of the float-weight SIMD kernels. Kernel provides
//   template <int R> static void dot(const float* x, const W* w, std::int64_t ldw, std::int64_t K,
//                                    float* out);   // out[r] = sum_k w[r ldw + k] x[k], r < R
// for R = Kernel::rows and R = 1.
template <class Kernel, class W>
void gemv_rows(View<const float, 1> x, View<const W, 2> w, View<const float, 1> bias, View<float, 1> y,
               ThreadPool& pool) {
  const std::int64_t K = w.shape(1), ldw = w.stride(0);
  gemv_row_blocks<Kernel::rows>(w.shape(0), K, bias, y, pool, [&](std::int64_t n, float* out, auto rows) {
    Kernel::template dot<decltype(rows)::value>(x.data(), w.data() + n * ldw, ldw, K, out);
  });
}
}  // namespace detail

template <class W>
void gemv(scalar_tag, View<const float, 1> x, View<const W, 2> w, View<const float, 1> bias, View<float, 1> y,
          [[maybe_unused]] ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemv(x, w, bias, y);
  const std::int64_t N = w.shape(0), K = w.shape(1);
  for (std::int64_t n = 0; n < N; ++n) {
    const W* wr = w.data() + n * w.stride(0);
    float acc = 0.0f;
    for (std::int64_t k = 0; k < K; ++k) acc += to_f32(wr[k]) * x.data()[k];
    y.data()[n] = bias.empty() ? acc : acc + bias.data()[n];
  }
}

template <QuantFormat F>
void gemv(scalar_tag, View<const float, 1> x, QuantView<F> w, View<const float, 1> bias, View<float, 1> y,
          [[maybe_unused]] ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemv(x, w, bias, y);
  const std::int64_t N = w.shape(0), K = w.shape(1);
  Tensor<float, 1> row({K});
  for (std::int64_t n = 0; n < N; ++n) {
    w.dequantize_row(n, 0, K, row.data());
    float acc = 0.0f;
    for (std::int64_t k = 0; k < K; ++k) acc += row.data()[k] * x.data()[k];
    y.data()[n] = bias.empty() ? acc : acc + bias.data()[n];
  }
}

DSVL_DEVICE_KERNEL_REQUIRED(gemv)

}  // namespace dsvl::kernels
