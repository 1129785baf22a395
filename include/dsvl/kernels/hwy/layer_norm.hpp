#pragma once
#include "dsvl/kernels/hwy/layer_norm-inl.hpp"
#include "dsvl/kernels/layer_norm.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::layer_norm, hwy_tag> = true;
template <>
inline constexpr bool native_v<op::layer_norm2d, hwy_tag> = true;

template <class W>
void layer_norm(hwy_tag, View<const float, 2> x, View<const W, 1> weight, View<const W, 1> bias, float eps,
                View<float, 2> y) {
  detail::check_layer_norm(x, weight, bias, y);
  if (x.shape(1) == 0) return;
  HWY_NAMESPACE::LayerNorm(x, weight.data(), bias.shape(0) ? bias.data() : static_cast<const W*>(nullptr), eps, y);
}

template <class W>
void layer_norm2d(hwy_tag, View<const float, 3> x, View<const W, 1> weight, View<const W, 1> bias, float eps,
                  View<float, 3> y) {
  detail::check_layer_norm2d(x, weight, bias, y);
  if (x.shape(0) == 0) return;
  HWY_NAMESPACE::LayerNorm2d(x, weight.data(), bias.data(), eps, y);
}

}  // namespace dsvl::kernels
