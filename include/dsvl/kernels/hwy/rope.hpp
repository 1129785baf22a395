#pragma once
#include "dsvl/kernels/hwy/rope-inl.hpp"
#include "dsvl/kernels/rope.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::rope_half, hwy_tag> = true;
template <>
inline constexpr bool native_v<op::rope_interleaved, hwy_tag> = true;

inline void rope_half(hwy_tag, View<float, 3> x, View<const float, 2> cos, View<const float, 2> sin) {
  detail::check_rope("kernels::rope_half", x, cos, sin);
  HWY_NAMESPACE::RopeHalf(x, cos, sin);
}

inline void rope_interleaved(hwy_tag, View<float, 3> x, View<const float, 2> cos, View<const float, 2> sin) {
  detail::check_rope("kernels::rope_interleaved", x, cos, sin);
  HWY_NAMESPACE::RopeInterleaved(x, cos, sin);
}

}  // namespace dsvl::kernels
