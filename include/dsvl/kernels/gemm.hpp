#pragma once
// GEMM: a Linear layer applied to a batch of rows (torch.nn.functional.linear(a, w, bias)):
//   c[m, n] = bias[n] + sum_k a[m, k] * w[n, k]          c = a · wᵀ + bias
// a: (M, K) f32.  w: (N, K), f32 or bf16 (the PyTorch Linear weight layout), or a quantized
// matrix (QuantView of q8<G> or q4<G>).  bias: (N) f32, or an empty View{} for none.  c: (M, N)
// f32; it must not overlap a or w.
// Rows of a, w and c may have any stride, the last dimension must be contiguous, and pointers
// need no alignment.  Products are accumulated in f32 (bf16 weights are widened exactly).  M, N
// or K may be 0; K = 0 gives c = bias (or 0).
// The scalar reference is the plain triple loop; the SIMD policies run the packed, cache-blocked
// driver of gemm_packed.hpp and differ from it only in the order of the f32 additions, with two
// exceptions that narrow the activations: hwy_bf16_tag rounds them to bf16 (bf16 weights), and
// hwy_tag on x86 rounds them to int8 per group for quantized weights, as the quantized GEMV does
// (gemv.hpp); elsewhere quantized weights are dequantized into f32 panels.

#include <cstdint>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/quant.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

namespace detail {
// Shared by gemm and gemv: an empty bias means none; otherwise it must have n elements.
inline void check_bias(const char* where, View<const float, 1> bias, std::int64_t n) {
  DSVL_CHECK(bias.empty() || (bias.shape(0) == n && bias.inner_contiguous()), where, "bias has ", bias.shape(0),
             " elements, the output has ", n, " columns");
}

template <class WView>
void check_gemm(View<const float, 2> a, const WView& w, View<const float, 1> bias, View<float, 2> c) {
  constexpr const char* where = "kernels::gemm";
  check_rows_view(where, "a", a);
  if constexpr (requires { w.inner_contiguous(); }) check_rows_view(where, "w", w);
  check_rows_view(where, "c", c);
  DSVL_CHECK(w.shape(1) == a.shape(1), where, "a has K = ", a.shape(1), " columns, w (N, K) has ", w.shape(1));
  DSVL_CHECK(c.shape(0) == a.shape(0) && c.shape(1) == w.shape(0), where, "c is (", c.shape(0), ", ", c.shape(1),
             "), expected (M, N) = (", a.shape(0), ", ", w.shape(0), ")");
  check_bias(where, bias, w.shape(0));
}
}  // namespace detail

template <class W>
void gemm(scalar_tag, View<const float, 2> a, View<const W, 2> w, View<const float, 1> bias, View<float, 2> c,
          [[maybe_unused]] ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemm(a, w, bias, c);
  const std::int64_t M = a.shape(0), N = w.shape(0), K = a.shape(1);
  for (std::int64_t m = 0; m < M; ++m) {
    const float* ar = a.data() + m * a.stride(0);
    float* cr = c.data() + m * c.stride(0);
    for (std::int64_t n = 0; n < N; ++n) {
      const W* wr = w.data() + n * w.stride(0);
      float acc = 0.0f;
      for (std::int64_t k = 0; k < K; ++k) acc += ar[k] * to_f32(wr[k]);
      cr[n] = bias.empty() ? acc : acc + bias.data()[n];
    }
  }
}

template <QuantFormat F>
void gemm(scalar_tag, View<const float, 2> a, QuantView<F> w, View<const float, 1> bias, View<float, 2> c,
          [[maybe_unused]] ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemm(a, w, bias, c);
  const std::int64_t M = a.shape(0), N = w.shape(0), K = a.shape(1);
  Tensor<float, 1> row({K});
  for (std::int64_t n = 0; n < N; ++n) {
    w.dequantize_row(n, 0, K, row.data());
    for (std::int64_t m = 0; m < M; ++m) {
      const float* ar = a.data() + m * a.stride(0);
      float acc = 0.0f;
      for (std::int64_t k = 0; k < K; ++k) acc += ar[k] * row.data()[k];
      c.data()[m * c.stride(0) + n] = bias.empty() ? acc : acc + bias.data()[n];
    }
  }
}

DSVL_DEVICE_KERNEL_REQUIRED(gemm)

}  // namespace dsvl::kernels
