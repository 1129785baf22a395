#pragma once
#include "dsvl/kernels/activations.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

template <class Arch>
inline constexpr bool native_v<op::gelu_erf, xsimd_tag<Arch>> = true;
template <class Arch>
inline constexpr bool native_v<op::gelu_tanh, xsimd_tag<Arch>> = true;
template <class Arch>
inline constexpr bool native_v<op::silu, xsimd_tag<Arch>> = true;
template <class Arch>
inline constexpr bool native_v<op::quick_gelu, xsimd_tag<Arch>> = true;
template <class Arch>
inline constexpr bool native_v<op::swiglu, xsimd_tag<Arch>> = true;

namespace detail {
// y = f(x) row by row with xsimd's exp, erf and tanh; f is generic, so row tails use the
// same formula on scalars with the std:: functions.
template <class Arch, class F>
void xsimd_map_rows(View<const float, 2> x, View<float, 2> y, F f) {
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t n = x.shape(1), nv = n - n % L;
  for (std::int64_t r = 0; r < x.shape(0); ++r) {
    const float* xr = x.data() + r * x.stride(0);
    float* yr = y.data() + r * y.stride(0);
    std::int64_t i = 0;
    for (; i < nv; i += L) f(B::load_unaligned(xr + i)).store_unaligned(yr + i);
    for (; i < n; ++i) yr[i] = f(xr[i]);
  }
}

template <class T>
T xsimd_silu(T x) {
  using std::exp;
  using xsimd::exp;
  return x / (T(1.0f) + exp(-x));
}
}  // namespace detail

template <class Arch>
void gelu_erf(xsimd_tag<Arch>, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::gelu_erf", x, y);
  detail::xsimd_map_rows<Arch>(x, y, [](auto v) {
    using T = decltype(v);
    using std::erf;
    using xsimd::erf;
    return T(0.5f) * v * (T(1.0f) + erf(v * T(detail::kGeluSqrt1_2)));
  });
}

template <class Arch>
void gelu_tanh(xsimd_tag<Arch>, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::gelu_tanh", x, y);
  detail::xsimd_map_rows<Arch>(x, y, [](auto v) {
    using T = decltype(v);
    using std::tanh;
    using xsimd::tanh;
    const T inner = T(detail::kGeluTanhBeta) * (v + T(detail::kGeluTanhKappa) * (v * v * v));
    return T(0.5f) * v * (T(1.0f) + tanh(inner));
  });
}

template <class Arch>
void silu(xsimd_tag<Arch>, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::silu", x, y);
  detail::xsimd_map_rows<Arch>(x, y, [](auto v) { return detail::xsimd_silu(v); });
}

template <class Arch>
void quick_gelu(xsimd_tag<Arch>, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::quick_gelu", x, y);
  detail::xsimd_map_rows<Arch>(x, y, [](auto v) {
    using T = decltype(v);
    using std::exp;
    using xsimd::exp;
    return v / (T(1.0f) + exp(T(-detail::kQuickGeluAlpha) * v));
  });
}

template <class Arch>
void swiglu(xsimd_tag<Arch>, View<const float, 2> gate, View<const float, 2> up, View<float, 2> out) {
  detail::check_swiglu(gate, up, out);
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t n = gate.shape(1), nv = n - n % L;
  for (std::int64_t r = 0; r < gate.shape(0); ++r) {
    const float* g = gate.data() + r * gate.stride(0);
    const float* u = up.data() + r * up.stride(0);
    float* o = out.data() + r * out.stride(0);
    std::int64_t i = 0;
    for (; i < nv; i += L)
      (detail::xsimd_silu(B::load_unaligned(g + i)) * B::load_unaligned(u + i)).store_unaligned(o + i);
    for (; i < n; ++i) o[i] = detail::silu_scalar(g[i]) * u[i];
  }
}

}  // namespace dsvl::kernels
