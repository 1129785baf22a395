#pragma once
#include <cstdint>
#include <vector>

#include "dsvl/kernels/interpolate.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

namespace detail {
// dst[o] = sum_t weight[t, o] * src[index[t, o]] for the a.out outputs: vectors over o, gathers.
template <class Arch>
void xsimd_resample_row(const InterpAxis& a, const float* src, float* dst) {
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t n = a.out, nv = n - n % L;
  const std::int32_t* idx = a.index.data();
  const float* wt = a.weight.data();
  std::int64_t o = 0;
  for (; o < nv; o += L) {
    B acc = B::load_unaligned(wt + o) * xs::gather<Arch>(src, idx + o);
    for (std::int64_t t = 1; t < a.taps; ++t)
      acc = xsimd::fma(B::load_unaligned(wt + t * n + o), xs::gather<Arch>(src, idx + t * n + o), acc);
    acc.store_unaligned(dst + o);
  }
  for (; o < n; ++o) {
    float acc = 0.0f;
    for (std::int64_t t = 0; t < a.taps; ++t) acc += wt[t * n + o] * src[idx[t * n + o]];
    dst[o] = acc;
  }
}

// dst[i] = sum_t weight[t, o] * rows[index[t, o] * ld + i] for i < len: a weighted sum of rows.
template <class Arch>
void xsimd_combine_rows(const InterpAxis& a, std::int64_t o, const float* rows, std::int64_t ld, std::int64_t len,
                        float* dst) {
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t lv = len - len % L;
  const float w0 = a.weight[static_cast<std::size_t>(o)];
  const float* r0 = rows + a.index[static_cast<std::size_t>(o)] * ld;
  std::int64_t i = 0;
  for (; i < lv; i += L) (B(w0) * B::load_unaligned(r0 + i)).store_unaligned(dst + i);
  for (; i < len; ++i) dst[i] = w0 * r0[i];
  for (std::int64_t t = 1; t < a.taps; ++t) {
    const auto k = static_cast<std::size_t>(t * a.out + o);
    const B wt(a.weight[k]);
    const float* r = rows + a.index[k] * ld;
    for (i = 0; i < lv; i += L) xsimd::fma(wt, B::load_unaligned(r + i), B::load_unaligned(dst + i)).store_unaligned(dst + i);
    for (; i < len; ++i) dst[i] += a.weight[k] * r[i];
  }
}
}  // namespace detail

template <class Arch>
inline constexpr bool native_v<op::interpolate, xsimd_tag<Arch>> = true;

// Two separable passes through a scratch image, in the cheaper order (detail::interp_vertical_first).
template <class Arch>
void interpolate(xsimd_tag<Arch>, View<const float, 3> x, InterpParams p, View<float, 3> y) {
  detail::check_interpolate(x, y);
  const std::int64_t C = x.shape(0), H = x.shape(1), W = x.shape(2), Ho = y.shape(1), Wo = y.shape(2);
  if (C == 0) return;
  const detail::InterpAxis ah = detail::interp_axis(H, Ho, p), aw = detail::interp_axis(W, Wo, p);
  const bool vertical_first = detail::interp_vertical_first(H, W, ah, aw);
  const std::vector<char> used = detail::interp_used(H, ah);
  std::vector<float> tmp(static_cast<std::size_t>(vertical_first ? Ho * W : H * Wo));
  for (std::int64_t c = 0; c < C; ++c) {
    const float* xc = x.data() + c * x.stride(0);
    float* yc = y.data() + c * y.stride(0);
    if (vertical_first) {
      for (std::int64_t oh = 0; oh < Ho; ++oh) detail::xsimd_combine_rows<Arch>(ah, oh, xc, x.stride(1), W, tmp.data() + oh * W);
      for (std::int64_t oh = 0; oh < Ho; ++oh) detail::xsimd_resample_row<Arch>(aw, tmp.data() + oh * W, yc + oh * y.stride(1));
    } else {
      for (std::int64_t ih = 0; ih < H; ++ih)
        if (used[static_cast<std::size_t>(ih)]) detail::xsimd_resample_row<Arch>(aw, xc + ih * x.stride(1), tmp.data() + ih * Wo);
      for (std::int64_t oh = 0; oh < Ho; ++oh) detail::xsimd_combine_rows<Arch>(ah, oh, tmp.data(), Wo, Wo, yc + oh * y.stride(1));
    }
  }
}

}  // namespace dsvl::kernels
