#pragma once
#include "dsvl/kernels/hwy/pixel_unshuffle-inl.hpp"
#include "dsvl/kernels/pixel_unshuffle.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::pixel_unshuffle, hwy_tag> = true;

inline void pixel_unshuffle(hwy_tag, View<const float, 3> x, std::int64_t r, View<float, 3> y) {
  detail::check_pixel_unshuffle(x, r, y);
  HWY_NAMESPACE::PixelUnshuffle(x, r, y);
}

}  // namespace dsvl::kernels
