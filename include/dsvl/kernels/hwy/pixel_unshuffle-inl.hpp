#if defined(DSVL_KERNELS_HWY_PIXEL_UNSHUFFLE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_PIXEL_UNSHUFFLE_INL_H_
#undef DSVL_KERNELS_HWY_PIXEL_UNSHUFFLE_INL_H_
#else
#define DSVL_KERNELS_HWY_PIXEL_UNSHUFFLE_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

// One output row per (c, i, j) and block row h: every r-th element of an input row, starting at j.
inline void PixelUnshuffle(View<const float, 3> x, std::int64_t r, View<float, 3> y) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t C = x.shape(0), Ho = y.shape(1), Wo = y.shape(2), Wv = Wo - Wo % L;
  const auto stride_idx = hn::Mul(hn::Iota(di, 0), hn::Set(di, static_cast<std::int32_t>(r)));
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t h = 0; h < Ho; ++h) {
        const float* src = x.data() + c * x.stride(0) + (h * r + i) * x.stride(1);
        float* dst0 = y.data() + (c * r * r + i * r) * y.stride(0) + h * y.stride(1);
        if (r == 1) {
          std::copy(src, src + Wo, dst0);
          continue;
        }
        if (r == 2) {  // even and odd columns in one deinterleaving load
          float* dst1 = dst0 + y.stride(0);
          std::int64_t w = 0;
          for (; w < Wv; w += L) {
            hn::Vec<decltype(d)> even, odd;
            hn::LoadInterleaved2(d, src + 2 * w, even, odd);
            hn::StoreU(even, d, dst0 + w);
            hn::StoreU(odd, d, dst1 + w);
          }
          for (; w < Wo; ++w) {
            dst0[w] = src[2 * w];
            dst1[w] = src[2 * w + 1];
          }
          continue;
        }
        for (std::int64_t j = 0; j < r; ++j) {
          float* dst = dst0 + j * y.stride(0);
          std::int64_t w = 0;
          for (; w < Wv; w += L) hn::StoreU(hn::GatherIndex(d, src + w * r + j, stride_idx), d, dst + w);
          for (; w < Wo; ++w) dst[w] = src[w * r + j];
        }
      }
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
