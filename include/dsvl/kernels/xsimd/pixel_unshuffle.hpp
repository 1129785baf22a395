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
  detail::unshuffle_by_segments(x, r, y, [](const float* src, const std::int32_t* off, std::int64_t n, float* dst) {
    std::int64_t q = 0;
    for (; q + L <= n; q += L) xs::gather<Arch>(src, off + q).store_unaligned(dst + q);
    for (; q < n; ++q) dst[q] = src[off[q]];
  });
}

}  // namespace dsvl::kernels
