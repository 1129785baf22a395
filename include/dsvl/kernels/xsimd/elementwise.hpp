#pragma once
#include "dsvl/kernels/elementwise.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

template <class Arch>
inline constexpr bool native_v<op::add, xsimd_tag<Arch>> = true;
template <class Arch>
inline constexpr bool native_v<op::mul, xsimd_tag<Arch>> = true;
template <class Arch>
inline constexpr bool native_v<op::scale, xsimd_tag<Arch>> = true;

namespace detail {
// out = f(a, b) row by row; b has a's shape or one broadcast row.
template <class Arch, class F>
void xsimd_zip_rows(View<const float, 2> a, View<const float, 2> b, View<float, 2> out, F f) {
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t n = a.shape(1), nv = n - n % L;
  for (std::int64_t r = 0; r < a.shape(0); ++r) {
    const float* ar = a.data() + r * a.stride(0);
    const float* br = elementwise_b_row(b, r);
    float* o = out.data() + r * out.stride(0);
    std::int64_t i = 0;
    for (; i < nv; i += L) f(B::load_unaligned(ar + i), B::load_unaligned(br + i)).store_unaligned(o + i);
    for (; i < n; ++i) o[i] = f(ar[i], br[i]);
  }
}
}  // namespace detail

template <class Arch>
void add(xsimd_tag<Arch>, View<const float, 2> a, View<const float, 2> b, View<float, 2> out) {
  detail::check_elementwise_binary("kernels::add", a, b, out);
  detail::xsimd_zip_rows<Arch>(a, b, out, [](auto u, auto v) { return u + v; });
}

template <class Arch>
void mul(xsimd_tag<Arch>, View<const float, 2> a, View<const float, 2> b, View<float, 2> out) {
  detail::check_elementwise_binary("kernels::mul", a, b, out);
  detail::xsimd_zip_rows<Arch>(a, b, out, [](auto u, auto v) { return u * v; });
}

template <class Arch>
void scale(xsimd_tag<Arch>, View<const float, 2> x, float s, View<float, 2> out) {
  detail::check_scale(x, out);
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t n = x.shape(1), nv = n - n % L;
  const B sv(s);
  for (std::int64_t r = 0; r < x.shape(0); ++r) {
    const float* xr = x.data() + r * x.stride(0);
    float* o = out.data() + r * out.stride(0);
    std::int64_t i = 0;
    for (; i < nv; i += L) (sv * B::load_unaligned(xr + i)).store_unaligned(o + i);
    for (; i < n; ++i) o[i] = s * xr[i];
  }
}

}  // namespace dsvl::kernels
