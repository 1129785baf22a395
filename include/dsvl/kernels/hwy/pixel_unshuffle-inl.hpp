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
  kernels::detail::unshuffle_by_segments(
      x, r, y, [&](const float* src, const std::int32_t* off, std::int64_t n, float* dst) {
        std::int64_t q = 0;
        for (; q + L <= n; q += L) hn::StoreU(hn::GatherIndex(d, src, hn::LoadU(di, off + q)), d, dst + q);
        for (; q < n; ++q) dst[q] = src[off[q]];
      });
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
