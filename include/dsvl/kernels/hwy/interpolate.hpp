#pragma once
#include "dsvl/kernels/hwy/interpolate-inl.hpp"
#include "dsvl/kernels/interpolate.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::interpolate, hwy_tag> = true;

inline void interpolate(hwy_tag, View<const float, 3> x, InterpParams p, View<float, 3> y) {
  detail::check_interpolate(x, y);
  HWY_NAMESPACE::Interpolate(x, p, y);
}

}  // namespace dsvl::kernels
