#pragma once
#include <algorithm>
#include <cmath>

#include "dsvl/kernels/layer_norm.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

template <class Arch>
inline constexpr bool native_v<op::layer_norm, xsimd_tag<Arch>> = true;
template <class Arch>
inline constexpr bool native_v<op::layer_norm2d, xsimd_tag<Arch>> = true;

template <class Arch, class W>
void layer_norm(xsimd_tag<Arch>, View<const float, 2> x, View<const W, 1> weight, View<const W, 1> bias, float eps,
                View<float, 2> y) {
  detail::check_layer_norm(x, weight, bias, y);
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t D = x.shape(1), Dv = D - D % L;
  if (D == 0) return;
  const W* w = weight.data();
  const W* b = bias.shape(0) ? bias.data() : nullptr;
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* xr = x.data() + t * x.stride(0);
    float* yr = y.data() + t * y.stride(0);
    B acc(0.0f);
    std::int64_t i = 0;
    for (; i < Dv; i += L) acc += B::load_unaligned(xr + i);
    float sum = xsimd::hadd(acc);
    for (; i < D; ++i) sum += xr[i];
    const float mean = sum / static_cast<float>(D);
    const B mv(mean);
    acc = B(0.0f);
    for (i = 0; i < Dv; i += L) {
      const B v = B::load_unaligned(xr + i) - mv;
      acc = xsimd::fma(v, v, acc);
    }
    float ss = xsimd::hadd(acc);
    for (; i < D; ++i) ss += (xr[i] - mean) * (xr[i] - mean);
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(D) + eps);
    const B rv(r);
    if (b) {
      for (i = 0; i < Dv; i += L) {
        const B v = (B::load_unaligned(xr + i) - mv) * rv;
        xsimd::fma(v, xs::load<Arch>(w + i), xs::load<Arch>(b + i)).store_unaligned(yr + i);
      }
      for (; i < D; ++i) yr[i] = (xr[i] - mean) * r * to_f32(w[i]) + to_f32(b[i]);
    } else {
      for (i = 0; i < Dv; i += L) ((B::load_unaligned(xr + i) - mv) * rv * xs::load<Arch>(w + i)).store_unaligned(yr + i);
      for (; i < D; ++i) yr[i] = (xr[i] - mean) * r * to_f32(w[i]);
    }
  }
}

// Vectorised across pixels: each pass streams every channel's plane in blocks of kPixelBlock
// pixels, with per-pixel sums kept in L1 (channel planes are power-of-two strides apart, so
// walking channels for one vector of pixels would thrash the cache sets).
template <class Arch, class W>
void layer_norm2d(xsimd_tag<Arch>, View<const float, 3> x, View<const W, 1> weight, View<const W, 1> bias, float eps,
                  View<float, 3> y) {
  detail::check_layer_norm2d(x, weight, bias, y);
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  constexpr std::int64_t kPixelBlock = 512;
  const std::int64_t C = x.shape(0), P = x.shape(1) * x.shape(2);
  if (C == 0) return;
  const std::int64_t xs = x.stride(0), ys = y.stride(0);
  const float cf = static_cast<float>(C);
  const B cv(cf), epsv(eps), one(1.0f);
  alignas(64) float mean[kPixelBlock], rstd[kPixelBlock];
  for (std::int64_t p0 = 0; p0 < P; p0 += kPixelBlock) {
    const std::int64_t n = std::min(kPixelBlock, P - p0), nv = n - n % L;
    const float* x0 = x.data() + p0;
    float* y0 = y.data() + p0;
    std::fill(mean, mean + n, 0.0f);
    for (std::int64_t c = 0; c < C; ++c) {
      const float* xc = x0 + c * xs;
      std::int64_t i = 0;
      for (; i < nv; i += L) (B::load_aligned(mean + i) + B::load_unaligned(xc + i)).store_aligned(mean + i);
      for (; i < n; ++i) mean[i] += xc[i];
    }
    std::int64_t i = 0;
    for (; i < nv; i += L) (B::load_aligned(mean + i) / cv).store_aligned(mean + i);
    for (; i < n; ++i) mean[i] /= cf;
    std::fill(rstd, rstd + n, 0.0f);
    for (std::int64_t c = 0; c < C; ++c) {
      const float* xc = x0 + c * xs;
      for (i = 0; i < nv; i += L) {
        const B v = B::load_unaligned(xc + i) - B::load_aligned(mean + i);
        xsimd::fma(v, v, B::load_aligned(rstd + i)).store_aligned(rstd + i);
      }
      for (; i < n; ++i) rstd[i] += (xc[i] - mean[i]) * (xc[i] - mean[i]);
    }
    for (i = 0; i < nv; i += L) (one / xsimd::sqrt(B::load_aligned(rstd + i) / cv + epsv)).store_aligned(rstd + i);
    for (; i < n; ++i) rstd[i] = 1.0f / std::sqrt(rstd[i] / cf + eps);
    for (std::int64_t c = 0; c < C; ++c) {
      const float* xc = x0 + c * xs;
      float* yc = y0 + c * ys;
      const float wc = to_f32(weight.data()[c]), bc = to_f32(bias.data()[c]);
      const B wv(wc), bv(bc);
      for (i = 0; i < nv; i += L) {
        const B v = (B::load_unaligned(xc + i) - B::load_aligned(mean + i)) * B::load_aligned(rstd + i);
        xsimd::fma(v, wv, bv).store_unaligned(yc + i);
      }
      for (; i < n; ++i) yc[i] = (xc[i] - mean[i]) * rstd[i] * wc + bc;
    }
  }
}

}  // namespace dsvl::kernels
