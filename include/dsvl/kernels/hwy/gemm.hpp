#pragma once
#include "dsvl/kernels/gemm.hpp"
#include "dsvl/kernels/gemm_packed.hpp"
#include "dsvl/kernels/hwy/gemm-inl.hpp"
#include "dsvl/kernels/hwy/gemm_quant-inl.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::gemm, hwy_tag> = true;
template <>
inline constexpr bool native_v<op::gemm_quant, hwy_tag> = true;

template <class W>
void gemm(hwy_tag, View<const float, 2> a, View<const W, 2> w, View<const float, 1> bias, View<float, 2> c,
          ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemm(a, w, bias, c);
  detail::gemm_packed<HWY_NAMESPACE::GemmTile>(a, w, bias, c, pool);
}

// The bf16 dot-product GEMM (hwy_bf16_tag); f32 and quantized weights take hwy_tag's kernels.
inline void gemm(hwy_bf16_tag, View<const float, 2> a, View<const bf16, 2> w, View<const float, 1> bias,
                 View<float, 2> c, ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemm(a, w, bias, c);
  detail::gemm_packed<HWY_NAMESPACE::GemmTileBF16>(a, w, bias, c, pool);
}

// Quantized weights: on x86 the int8 GEMM (activations rounded to int8 per group, as the quantized
// GEMV does; gemm_quant-inl.hpp), elsewhere the f32 GEMM on weights dequantized while packing.
template <QuantFormat F>
void gemm(hwy_tag, View<const float, 2> a, QuantView<F> w, View<const float, 1> bias, View<float, 2> c,
          ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemm(a, w, bias, c);
#ifdef DSVL_HWY_GEMM_INT8
  if constexpr (HWY_NAMESPACE::kInt8GemmFormat<F>) {
    detail::gemm_packed<HWY_NAMESPACE::GemmTileQuant<F>>(a, w, bias, c, pool);
    return;
  }
#endif
  detail::gemm_packed<HWY_NAMESPACE::GemmTile>(a, w, bias, c, pool);
}

}  // namespace dsvl::kernels
