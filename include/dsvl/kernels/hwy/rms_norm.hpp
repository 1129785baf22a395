#pragma once
#include "dsvl/kernels/hwy/rms_norm-inl.hpp"
#include "dsvl/kernels/rms_norm.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::rms_norm, hwy_tag> = true;

template <class W>
void rms_norm(hwy_tag, View<const float, 2> x, View<const W, 1> w, float eps, View<float, 2> y) {
  detail::check_rms_norm(x, w, y);
  HWY_NAMESPACE::RmsNorm(x, w, eps, y);
}

}  // namespace dsvl::kernels
