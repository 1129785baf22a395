#pragma once
#include "dsvl/kernels/gemv.hpp"
#include "dsvl/kernels/hwy/gemv-inl.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::gemv, hwy_tag> = true;

template <class W>
void gemv(hwy_tag, View<const float, 1> x, View<const W, 2> w, View<const float, 1> bias, View<float, 1> y,
          ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemv(x, w, bias, y);
  detail::gemv_rows<HWY_NAMESPACE::GemvRows>(x, w, bias, y, pool);
}

}  // namespace dsvl::kernels
