#pragma once
#include "dsvl/kernels/gemm.hpp"
#include "dsvl/kernels/gemm_packed.hpp"
#include "dsvl/kernels/hwy/gemm-inl.hpp"

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

template <QuantFormat F>
void gemm(hwy_tag, View<const float, 2> a, QuantView<F> w, View<const float, 1> bias, View<float, 2> c,
          ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemm(a, w, bias, c);
  detail::gemm_packed<HWY_NAMESPACE::GemmTile>(a, w, bias, c, pool);
}

}  // namespace dsvl::kernels
