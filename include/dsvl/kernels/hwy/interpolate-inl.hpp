#if defined(DSVL_KERNELS_HWY_INTERPOLATE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_INTERPOLATE_INL_H_
#undef DSVL_KERNELS_HWY_INTERPOLATE_INL_H_
#else
#define DSVL_KERNELS_HWY_INTERPOLATE_INL_H_
#endif

#include <cstdint>
#include <vector>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"
#include "dsvl/kernels/interpolate.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

// dst[o] = sum_t weight[t, o] * src[index[t, o]] for the a.out outputs: vectors over o, gathers.
inline void ResampleRow(const kernels::detail::InterpAxis& a, const float* src, float* dst) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t n = a.out, nv = n - n % L;
  const std::int32_t* idx = a.index.data();
  const float* wt = a.weight.data();
  std::int64_t o = 0;
  for (; o < nv; o += L) {
    auto acc = hn::Mul(hn::LoadU(d, wt + o), hn::GatherIndex(d, src, hn::LoadU(di, idx + o)));
    for (std::int64_t t = 1; t < a.taps; ++t)
      acc = hn::MulAdd(hn::LoadU(d, wt + t * n + o), hn::GatherIndex(d, src, hn::LoadU(di, idx + t * n + o)), acc);
    hn::StoreU(acc, d, dst + o);
  }
  for (; o < n; ++o) {
    float acc = 0.0f;
    for (std::int64_t t = 0; t < a.taps; ++t) acc += wt[t * n + o] * src[idx[t * n + o]];
    dst[o] = acc;
  }
}

// dst[i] = sum_t weight[t, o] * rows[index[t, o] * ld + i] for i < len: a weighted sum of rows.
inline void CombineRows(const kernels::detail::InterpAxis& a, std::int64_t o, const float* rows, std::int64_t ld,
                        std::int64_t len, float* dst) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t lv = len - len % L;
  const float w0 = a.weight[static_cast<std::size_t>(o)];
  const float* r0 = rows + a.index[static_cast<std::size_t>(o)] * ld;
  std::int64_t i = 0;
  for (; i < lv; i += L) hn::StoreU(hn::Mul(hn::Set(d, w0), hn::LoadU(d, r0 + i)), d, dst + i);
  for (; i < len; ++i) dst[i] = w0 * r0[i];
  for (std::int64_t t = 1; t < a.taps; ++t) {
    const auto k = static_cast<std::size_t>(t * a.out + o);
    const auto wt = hn::Set(d, a.weight[k]);
    const float* r = rows + a.index[k] * ld;
    for (i = 0; i < lv; i += L) hn::StoreU(hn::MulAdd(wt, hn::LoadU(d, r + i), hn::LoadU(d, dst + i)), d, dst + i);
    for (; i < len; ++i) dst[i] += a.weight[k] * r[i];
  }
}

// Two separable passes through a scratch image, in the cheaper order (interp_vertical_first).
inline void Interpolate(View<const float, 3> x, const InterpParams& p, View<float, 3> y) {
  const std::int64_t C = x.shape(0), H = x.shape(1), W = x.shape(2), Ho = y.shape(1), Wo = y.shape(2);
  if (C == 0) return;
  const auto ah = kernels::detail::interp_axis(H, Ho, p), aw = kernels::detail::interp_axis(W, Wo, p);
  const bool vertical_first = kernels::detail::interp_vertical_first(H, W, ah, aw);
  const std::vector<char> used = kernels::detail::interp_used(H, ah);
  std::vector<float> tmp(static_cast<std::size_t>(vertical_first ? Ho * W : H * Wo));
  for (std::int64_t c = 0; c < C; ++c) {
    const float* xc = x.data() + c * x.stride(0);
    float* yc = y.data() + c * y.stride(0);
    if (vertical_first) {
      for (std::int64_t oh = 0; oh < Ho; ++oh) CombineRows(ah, oh, xc, x.stride(1), W, tmp.data() + oh * W);
      for (std::int64_t oh = 0; oh < Ho; ++oh) ResampleRow(aw, tmp.data() + oh * W, yc + oh * y.stride(1));
    } else {
      for (std::int64_t ih = 0; ih < H; ++ih)
        if (used[static_cast<std::size_t>(ih)]) ResampleRow(aw, xc + ih * x.stride(1), tmp.data() + ih * Wo);
      for (std::int64_t oh = 0; oh < Ho; ++oh) CombineRows(ah, oh, tmp.data(), Wo, Wo, yc + oh * y.stride(1));
    }
  }
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
