#pragma once
// Pixel unshuffle (torch.nn.functional.pixel_unshuffle on one image): each r x r block of
// pixels becomes r*r channels,
//   y[c*r*r + i*r + j, h, w] = x[c, h*r + i, w*r + j]
// x: (C, H, W) f32, y: (C*r*r, H/r, W/r) f32; H and W must be multiples of r >= 1 (an error
// otherwise). Any strides with a contiguous last dimension; y must not overlap x. Sizes may be 0.
// This is DeepSeek-VL2's projector unfold (kernel 2, stride 2, channel order c*4 + kh*2 + kw)
// once its 27x27 grid is zero-padded to 28x28.

#include <cstdint>
#include <vector>

#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

namespace detail {
inline void check_pixel_unshuffle(View<const float, 3> x, std::int64_t r, View<float, 3> y) {
  constexpr const char* where = "kernels::pixel_unshuffle";
  check_rows_view(where, "x", x);
  check_rows_view(where, "y", y);
  DSVL_CHECK(r >= 1, where, "factor r = ", r, " must be at least 1");
  DSVL_CHECK(x.shape(1) % r == 0 && x.shape(2) % r == 0, where, "x is (", x.shape(0), ", ", x.shape(1), ", ",
             x.shape(2), "), H and W must be multiples of r = ", r);
  DSVL_CHECK(y.shape(0) == x.shape(0) * r * r && y.shape(1) == x.shape(1) / r && y.shape(2) == x.shape(2) / r, where,
             "y is (", y.shape(0), ", ", y.shape(1), ", ", y.shape(2), "), expected (C*r*r, H/r, W/r) = (",
             x.shape(0) * r * r, ", ", x.shape(1) / r, ", ", x.shape(2) / r, ")");
  DSVL_CHECK(x.shape(2) <= INT32_MAX, where, "W = ", x.shape(2), " must fit int32 offsets");
}

// For the SIMD versions: every output plane (c, i, j) is `count` segments of `length` elements,
// segment n at y plane + n * y_step reading x[c, i, j] + n * x_step + offset[q] (a gather). When
// the planes of y are packed, one segment per plane covers all Ho*Wo outputs, so short rows
// (VL2: 14) still fill vectors; otherwise one segment per row.
struct UnshuffleSegments {
  std::int64_t count = 0, length = 0, x_step = 0, y_step = 0;
  std::vector<std::int32_t> offset;
};
inline UnshuffleSegments unshuffle_segments(View<const float, 3> x, std::int64_t r, View<float, 3> y) {
  const std::int64_t Ho = y.shape(1), Wo = y.shape(2);
  UnshuffleSegments s;
  const bool packed = (Ho <= 1 || y.stride(1) == Wo) && (Ho - 1) * r * x.stride(1) + (Wo - 1) * r <= INT32_MAX;
  s.count = packed ? 1 : Ho;
  s.length = packed ? Ho * Wo : Wo;
  s.x_step = r * x.stride(1);
  s.y_step = y.stride(1);
  s.offset.resize(static_cast<std::size_t>(s.length));
  for (std::int64_t q = 0; q < s.length; ++q)
    s.offset[static_cast<std::size_t>(q)] = static_cast<std::int32_t>(packed ? q / Wo * s.x_step + q % Wo * r : q * r);
  return s;
}

// The SIMD policies' loop: for every output plane and segment, copy_segment(src, offset, length,
// dst) sets dst[q] = src[offset[q]] for q < length (vector gathers plus a scalar tail).
template <class CopySegment>
void unshuffle_by_segments(View<const float, 3> x, std::int64_t r, View<float, 3> y, CopySegment copy_segment) {
  const UnshuffleSegments seg = unshuffle_segments(x, r, y);
  for (std::int64_t c = 0; c < x.shape(0); ++c)
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < r; ++j)
        for (std::int64_t g = 0; g < seg.count; ++g)
          copy_segment(x.data() + c * x.stride(0) + i * x.stride(1) + j + g * seg.x_step, seg.offset.data(),
                       seg.length, y.data() + (c * r * r + i * r + j) * y.stride(0) + g * seg.y_step);
}
}  // namespace detail

inline void pixel_unshuffle(scalar_tag, View<const float, 3> x, std::int64_t r, View<float, 3> y) {
  detail::check_pixel_unshuffle(x, r, y);
  const std::int64_t C = x.shape(0), Ho = y.shape(1), Wo = y.shape(2);
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < r; ++j)
        for (std::int64_t h = 0; h < Ho; ++h)
          for (std::int64_t w = 0; w < Wo; ++w) y(c * r * r + i * r + j, h, w) = x(c, h * r + i, w * r + j);
}

DSVL_DEVICE_KERNEL_REQUIRED(pixel_unshuffle)

}  // namespace dsvl::kernels
