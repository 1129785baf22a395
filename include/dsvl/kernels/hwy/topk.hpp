#pragma once
#include "dsvl/kernels/hwy/topk-inl.hpp"
#include "dsvl/kernels/topk.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::topk, hwy_tag> = true;

inline void topk(hwy_tag, View<const float, 2> x, std::int64_t k, View<float, 2> values,
                 View<std::int32_t, 2> indices) {
  detail::check_topk(x, k, values, indices);
  HWY_NAMESPACE::TopK(x, k, values, indices);
}

}  // namespace dsvl::kernels
