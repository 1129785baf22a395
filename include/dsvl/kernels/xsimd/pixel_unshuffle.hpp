#pragma once
#include <cstdint>

#include "dsvl/kernels/pixel_unshuffle.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

template <class Arch>
inline constexpr bool native_v<op::pixel_unshuffle, xsimd_tag<Arch>> = true;

template <class Arch>
void pixel_unshuffle(xsimd_tag<Arch>, View<const float, 3> x, std::int64_t r, View<float, 3> y) {
  detail::check_pixel_unshuffle(x, r, y);
  constexpr std::int64_t L = xs::fbatch<Arch>::size;
  const detail::UnshuffleSegments seg = detail::unshuffle_segments(x, r, y);
  const std::int32_t* off = seg.offset.data();
  const std::int64_t n = seg.length, nv = n - n % L;
  for (std::int64_t c = 0; c < x.shape(0); ++c)
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < r; ++j)
        for (std::int64_t g = 0; g < seg.count; ++g) {
          const float* src = x.data() + c * x.stride(0) + i * x.stride(1) + j + g * seg.x_step;
          float* dst = y.data() + (c * r * r + i * r + j) * y.stride(0) + g * seg.y_step;
          std::int64_t q = 0;
          for (; q < nv; q += L) xs::gather<Arch>(src, off + q).store_unaligned(dst + q);
          for (; q < n; ++q) dst[q] = src[off[q]];
        }
}

}  // namespace dsvl::kernels
