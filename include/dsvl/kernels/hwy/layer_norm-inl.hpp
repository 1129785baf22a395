#if defined(DSVL_KERNELS_HWY_LAYER_NORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_LAYER_NORM_INL_H_
#undef DSVL_KERNELS_HWY_LAYER_NORM_INL_H_
#else
#define DSVL_KERNELS_HWY_LAYER_NORM_INL_H_
#endif

#include <algorithm>
#include <cmath>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

template <class W>
void LayerNorm(View<const float, 2> x, const W* w, const W* b, float eps, View<float, 2> y) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t D = x.shape(1), Dv = D - D % L;
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* xr = x.data() + t * x.stride(0);
    float* yr = y.data() + t * y.stride(0);
    auto acc = hn::Zero(d);
    std::int64_t i = 0;
    for (; i < Dv; i += L) acc = hn::Add(acc, hn::LoadU(d, xr + i));
    float sum = SumLanes(d, acc);
    for (; i < D; ++i) sum += xr[i];
    const float mean = sum / static_cast<float>(D);
    const auto mv = hn::Set(d, mean);
    acc = hn::Zero(d);
    for (i = 0; i < Dv; i += L) {
      const auto v = hn::Sub(hn::LoadU(d, xr + i), mv);
      acc = hn::MulAdd(v, v, acc);
    }
    float ss = SumLanes(d, acc);
    for (; i < D; ++i) ss += (xr[i] - mean) * (xr[i] - mean);
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(D) + eps);
    const auto rv = hn::Set(d, r);
    if (b) {
      for (i = 0; i < Dv; i += L) {
        const auto v = hn::Mul(hn::Sub(hn::LoadU(d, xr + i), mv), rv);
        hn::StoreU(hn::MulAdd(v, LoadF32(d, w + i), LoadF32(d, b + i)), d, yr + i);
      }
      for (; i < D; ++i) yr[i] = (xr[i] - mean) * r * to_f32(w[i]) + to_f32(b[i]);
    } else {
      for (i = 0; i < Dv; i += L)
        hn::StoreU(hn::Mul(hn::Mul(hn::Sub(hn::LoadU(d, xr + i), mv), rv), LoadF32(d, w + i)), d, yr + i);
      for (; i < D; ++i) yr[i] = (xr[i] - mean) * r * to_f32(w[i]);
    }
  }
}

// Vectorised across pixels: each pass streams every channel's plane in blocks of kPixelBlock
// pixels, with per-pixel sums kept in L1 (channel planes are power-of-two strides apart, so
// walking channels for one vector of pixels would thrash the cache sets).
template <class W>
void LayerNorm2d(View<const float, 3> x, const W* w, const W* b, float eps, View<float, 3> y) {
  constexpr std::int64_t kPixelBlock = 512;
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t C = x.shape(0), P = x.shape(1) * x.shape(2);
  const std::int64_t xs = x.stride(0), ys = y.stride(0);
  const auto cv = hn::Set(d, static_cast<float>(C));
  const auto epsv = hn::Set(d, eps);
  const auto one = hn::Set(d, 1.0f);
  HWY_ALIGN float mean[kPixelBlock], rstd[kPixelBlock];
  for (std::int64_t p0 = 0; p0 < P; p0 += kPixelBlock) {
    const std::int64_t n = std::min(kPixelBlock, P - p0), nv = n - n % L;
    const float* x0 = x.data() + p0;
    float* y0 = y.data() + p0;
    std::fill(mean, mean + n, 0.0f);
    for (std::int64_t c = 0; c < C; ++c) {
      const float* xc = x0 + c * xs;
      std::int64_t i = 0;
      for (; i < nv; i += L) hn::Store(hn::Add(hn::Load(d, mean + i), hn::LoadU(d, xc + i)), d, mean + i);
      for (; i < n; ++i) mean[i] += xc[i];
    }
    std::int64_t i = 0;
    for (; i < nv; i += L) hn::Store(hn::Div(hn::Load(d, mean + i), cv), d, mean + i);
    for (; i < n; ++i) mean[i] /= static_cast<float>(C);
    std::fill(rstd, rstd + n, 0.0f);
    for (std::int64_t c = 0; c < C; ++c) {
      const float* xc = x0 + c * xs;
      for (i = 0; i < nv; i += L) {
        const auto v = hn::Sub(hn::LoadU(d, xc + i), hn::Load(d, mean + i));
        hn::Store(hn::MulAdd(v, v, hn::Load(d, rstd + i)), d, rstd + i);
      }
      for (; i < n; ++i) rstd[i] += (xc[i] - mean[i]) * (xc[i] - mean[i]);
    }
    for (i = 0; i < nv; i += L)
      hn::Store(hn::Div(one, hn::Sqrt(hn::Add(hn::Div(hn::Load(d, rstd + i), cv), epsv))), d, rstd + i);
    for (; i < n; ++i) rstd[i] = 1.0f / std::sqrt(rstd[i] / static_cast<float>(C) + eps);
    for (std::int64_t c = 0; c < C; ++c) {
      const float* xc = x0 + c * xs;
      float* yc = y0 + c * ys;
      const float wc = to_f32(w[c]), bc = to_f32(b[c]);
      const auto wv = hn::Set(d, wc), bv = hn::Set(d, bc);
      for (i = 0; i < nv; i += L) {
        const auto v = hn::Mul(hn::Sub(hn::LoadU(d, xc + i), hn::Load(d, mean + i)), hn::Load(d, rstd + i));
        hn::StoreU(hn::MulAdd(v, wv, bv), d, yc + i);
      }
      for (; i < n; ++i) yc[i] = (xc[i] - mean[i]) * rstd[i] * wc + bc;
    }
  }
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
