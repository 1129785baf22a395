#pragma once
#include "dsvl/kernels/elementwise.hpp"
#include "dsvl/kernels/hwy/elementwise-inl.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::add, hwy_tag> = true;
template <>
inline constexpr bool native_v<op::mul, hwy_tag> = true;
template <>
inline constexpr bool native_v<op::scale, hwy_tag> = true;

inline void add(hwy_tag, View<const float, 2> a, View<const float, 2> b, View<float, 2> out) {
  detail::check_elementwise_binary("kernels::add", a, b, out);
  HWY_NAMESPACE::ZipRows(
      a, b, out, [](auto u, auto v) { return HWY_NAMESPACE::hn::Add(u, v); }, [](float u, float v) { return u + v; });
}

inline void mul(hwy_tag, View<const float, 2> a, View<const float, 2> b, View<float, 2> out) {
  detail::check_elementwise_binary("kernels::mul", a, b, out);
  HWY_NAMESPACE::ZipRows(
      a, b, out, [](auto u, auto v) { return HWY_NAMESPACE::hn::Mul(u, v); }, [](float u, float v) { return u * v; });
}

inline void scale(hwy_tag, View<const float, 2> x, float s, View<float, 2> out) {
  detail::check_scale(x, out);
  HWY_NAMESPACE::Scale(x, s, out);
}

}  // namespace dsvl::kernels
