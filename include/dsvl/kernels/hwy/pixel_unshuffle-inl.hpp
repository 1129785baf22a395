#if defined(DSVL_KERNELS_HWY_PIXEL_UNSHUFFLE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_PIXEL_UNSHUFFLE_INL_H_
#undef DSVL_KERNELS_HWY_PIXEL_UNSHUFFLE_INL_H_
#else
#define DSVL_KERNELS_HWY_PIXEL_UNSHUFFLE_INL_H_
#endif

#include <cstdint>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"
#include "dsvl/kernels/pixel_unshuffle.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

inline void PixelUnshuffle(View<const float, 3> x, std::int64_t r, View<float, 3> y) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const kernels::detail::UnshuffleSegments seg = kernels::detail::unshuffle_segments(x, r, y);
  const std::int32_t* off = seg.offset.data();
  const std::int64_t n = seg.length, nv = n - n % L;
  for (std::int64_t c = 0; c < x.shape(0); ++c)
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < r; ++j)
        for (std::int64_t g = 0; g < seg.count; ++g) {
          const float* src = x.data() + c * x.stride(0) + i * x.stride(1) + j + g * seg.x_step;
          float* dst = y.data() + (c * r * r + i * r + j) * y.stride(0) + g * seg.y_step;
          std::int64_t q = 0;
          for (; q < nv; q += L) hn::StoreU(hn::GatherIndex(d, src, hn::LoadU(di, off + q)), d, dst + q);
          for (; q < n; ++q) dst[q] = src[off[q]];
        }
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
