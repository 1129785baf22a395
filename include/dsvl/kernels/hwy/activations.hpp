#pragma once
#include "dsvl/kernels/activations.hpp"
#include "dsvl/kernels/hwy/activations-inl.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::gelu_erf, hwy_tag> = true;
template <>
inline constexpr bool native_v<op::gelu_tanh, hwy_tag> = true;
template <>
inline constexpr bool native_v<op::silu, hwy_tag> = true;
template <>
inline constexpr bool native_v<op::quick_gelu, hwy_tag> = true;
template <>
inline constexpr bool native_v<op::swiglu, hwy_tag> = true;

inline void gelu_erf(hwy_tag, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::gelu_erf", x, y);
  HWY_NAMESPACE::MapRows(
      x, y, [](auto d, auto v) { return HWY_NAMESPACE::GeluErf(d, v); }, detail::gelu_erf_scalar);
}

inline void gelu_tanh(hwy_tag, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::gelu_tanh", x, y);
  HWY_NAMESPACE::MapRows(
      x, y, [](auto d, auto v) { return HWY_NAMESPACE::GeluTanh(d, v); }, detail::gelu_tanh_scalar);
}

inline void silu(hwy_tag, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::silu", x, y);
  HWY_NAMESPACE::MapRows(
      x, y, [](auto d, auto v) { return HWY_NAMESPACE::Silu(d, v); }, detail::silu_scalar);
}

inline void quick_gelu(hwy_tag, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::quick_gelu", x, y);
  HWY_NAMESPACE::MapRows(
      x, y, [](auto d, auto v) { return HWY_NAMESPACE::QuickGelu(d, v); }, detail::quick_gelu_scalar);
}

inline void swiglu(hwy_tag, View<const float, 2> gate, View<const float, 2> up, View<float, 2> out) {
  detail::check_swiglu(gate, up, out);
  HWY_NAMESPACE::SwiGlu(gate, up, out);
}

}  // namespace dsvl::kernels
