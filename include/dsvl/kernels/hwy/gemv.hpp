#pragma once
#include <vector>

#include "dsvl/kernels/gemv.hpp"
#include "dsvl/kernels/hwy/gemv-inl.hpp"
#include "dsvl/kernels/hwy/gemv_quant-inl.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::gemv, hwy_tag> = true;

template <class W>
void gemv(hwy_tag, View<const float, 1> x, View<const W, 2> w, View<const float, 1> bias, View<float, 1> y,
          ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemv(x, w, bias, y);
  detail::gemv_rows<HWY_NAMESPACE::GemvRows>(x, w, bias, y, pool);
}

#ifdef DSVL_HWY_GEMV_QUANT
template <>
inline constexpr bool native_v<op::gemv_quant, hwy_tag> = true;

template <QuantFormat F>
void gemv(hwy_tag, View<const float, 1> x, QuantView<F> w, View<const float, 1> bias, View<float, 1> y,
          ThreadPool& pool = ThreadPool::global()) {
  using Kernel = HWY_NAMESPACE::GemvQuantRows<F>;
  constexpr int R = Kernel::rows, G = F::group_size;
  detail::check_gemv(x, w, bias, y);
  const std::int64_t N = w.shape(0), K = w.shape(1), groups = w.groups();
  thread_local std::vector<std::int8_t> codes;
  thread_local std::vector<float> scale, offset;
  const auto padded = static_cast<std::size_t>((groups + 7) / 8 * 8);  // the kernel reads scales 8 at a time
  codes.resize(static_cast<std::size_t>((groups + 1) / 2 * 2 * G));  // whole pairs (XOrder::paired)
  scale.assign(padded, 0.0f);
  offset.assign(padded, 0.0f);
  HWY_NAMESPACE::QuantizeX<G, Kernel::x_order>(x.data(), K, codes.data(), scale.data(), offset.data());
  const HWY_NAMESPACE::QuantizedX xq{codes.data(), scale.data(), offset.data()};
  detail::gemv_row_blocks<R>(N, K, bias, y, pool, [&](std::int64_t n, float* out, auto rows) {
    Kernel::template dot<decltype(rows)::value>(xq, w, n, out);
  });
}
#endif

}  // namespace dsvl::kernels
