#pragma once
// Resize one image (torch.nn.functional.interpolate(x[None], size=(Ho, Wo), mode, align_corners,
// antialias)[0] for f32, with no scale_factor):
//   mode bilinear or bicubic; align_corners false or true; antialias false or true.
// x: (C, H, W) f32, y: (C, Ho, Wo) f32, H, W, Ho, Wo >= 1 (an error otherwise, as in torch);
// C may be 0. Any strides with contiguous last dimensions; y must not overlap x.
//
// Every mode is separable: each output index along an axis reads a few input indices with fixed
// weights (detail::interp_axis), and y[c, oh, ow] = sum_i wh[i] * (sum_j ww[j] * x[c, ih[i], iw[j]]),
// summed in tap order as torch does. Per axis (in -> out), the scale is in/out, or
// (in-1)/(out-1) with align_corners (0 when out == 1):
//  - bilinear: src = scale*(o+0.5) - 0.5 clamped to >= 0 (align_corners: scale*o); taps
//    i0 = min(floor(src), in-1) and min(i0+1, in-1) with weights 1-l and l, l = src - i0 in [0, 1].
//  - bicubic: the same src without the clamp; taps i0-1 .. i0+2 clamped to [0, in-1], weights of
//    Keys' cubic with A = -0.75 at distance l.
//  - antialias (either mode): centre = scale*(o+0.5) (align_corners too: it only changes the
//    scale), support = s * max(scale, 1) with s = 1 (bilinear) or 2 (bicubic); taps are the input
//    indices in [int(centre-support+0.5), int(centre+support+0.5)) within [0, in), weighted by the
//    kernel at (i - centre + 0.5) / max(scale, 1) (triangle; cubic with a = -0.5) and normalised to
//    sum 1. When upsampling, antialiased bilinear equals the plain path up to rounding with
//    align_corners false, but not with align_corners true (the centre keeps the half-pixel
//    offset), and antialiased bicubic differs (a = -0.5, taps past the border dropped, not
//    clamped); all as torch 2.15 computes them.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

enum class InterpMode { bilinear, bicubic };

struct InterpParams {
  InterpMode mode = InterpMode::bilinear;
  bool align_corners = false;
  bool antialias = false;
};

namespace detail {
inline void check_interpolate(View<const float, 3> x, View<float, 3> y) {
  constexpr const char* where = "kernels::interpolate";
  check_rows_view(where, "x", x);
  check_rows_view(where, "y", y);
  DSVL_CHECK(y.shape(0) == x.shape(0), where, "x has ", x.shape(0), " channels, y has ", y.shape(0));
  DSVL_CHECK(x.shape(1) >= 1 && x.shape(2) >= 1 && y.shape(1) >= 1 && y.shape(2) >= 1, where, "input (", x.shape(1),
             ", ", x.shape(2), ") and output (", y.shape(1), ", ", y.shape(2), ") sizes must be at least 1");
  DSVL_CHECK(x.shape(1) <= INT32_MAX && x.shape(2) <= INT32_MAX, where, "input sizes must fit int32 indices");
}

// The taps of one axis, tap-major: output o reads input index[t*out + o] with weight[t*out + o]
// for t < taps. Outputs with fewer taps than `taps` are padded with weight 0 at a valid index.
struct InterpAxis {
  std::int64_t out = 0, taps = 0;
  std::vector<std::int32_t> index;
  std::vector<float> weight;
};

inline float cubic_near(float x, float a) { return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f; }  // |x| <= 1
inline float cubic_far(float x, float a) { return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a; }  // 1 < |x| < 2

// Antialiasing filters, evaluated in double like torch and rounded to f32.
inline float aa_triangle(float x) {
  const double d = std::fabs(static_cast<double>(x));
  return d < 1.0 ? static_cast<float>(1.0 - d) : 0.0f;
}
inline float aa_cubic(float x) {
  constexpr double a = -0.5;
  const double d = std::fabs(static_cast<double>(x));
  if (d < 1.0) return static_cast<float>(((a + 2.0) * d - (a + 3.0)) * d * d + 1.0);
  if (d < 2.0) return static_cast<float>((((d - 5.0) * d + 8.0) * d - 4.0) * a);
  return 0.0f;
}

inline InterpAxis interp_axis(std::int64_t in, std::int64_t out, const InterpParams& p) {
  InterpAxis ax;
  ax.out = out;
  const float scale = p.align_corners ? (out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f)
                                      : static_cast<float>(in) / static_cast<float>(out);
  const bool cubic = p.mode == InterpMode::bicubic;
  if (p.antialias) {
    const float support = static_cast<float>((cubic ? 2.0 : 1.0) * (scale >= 1.0f ? scale : 1.0f));
    const float invscale = scale >= 1.0f ? static_cast<float>(1.0 / scale) : 1.0f;
    std::vector<std::int64_t> first(static_cast<std::size_t>(out)), count(static_cast<std::size_t>(out));
    for (std::int64_t o = 0; o < out; ++o) {
      const float centre = static_cast<float>(static_cast<double>(scale) * (static_cast<double>(o) + 0.5));
      const auto lo = std::max<std::int64_t>(static_cast<std::int64_t>((centre - support) + 0.5), 0);
      const auto hi = std::min<std::int64_t>(static_cast<std::int64_t>((centre + support) + 0.5), in);
      first[static_cast<std::size_t>(o)] = lo;
      count[static_cast<std::size_t>(o)] = std::max<std::int64_t>(hi - lo, 0);
      ax.taps = std::max(ax.taps, hi - lo);
    }
    ax.index.assign(static_cast<std::size_t>(ax.taps * out), 0);
    ax.weight.assign(static_cast<std::size_t>(ax.taps * out), 0.0f);
    std::vector<float> w(static_cast<std::size_t>(ax.taps));
    for (std::int64_t o = 0; o < out; ++o) {
      const float centre = static_cast<float>(static_cast<double>(scale) * (static_cast<double>(o) + 0.5));
      const std::int64_t lo = first[static_cast<std::size_t>(o)], n = count[static_cast<std::size_t>(o)];
      float total = 0.0f;
      for (std::int64_t t = 0; t < n; ++t) {
        const double arg = (static_cast<double>(static_cast<float>(lo + t) - centre) + 0.5) * invscale;
        w[static_cast<std::size_t>(t)] = cubic ? aa_cubic(static_cast<float>(arg)) : aa_triangle(static_cast<float>(arg));
        total += w[static_cast<std::size_t>(t)];
      }
      for (std::int64_t t = 0; t < ax.taps; ++t) {
        const auto k = static_cast<std::size_t>(t * out + o);
        ax.index[k] = static_cast<std::int32_t>(t < n ? lo + t : std::min(lo, in - 1));
        ax.weight[k] = t < n && total != 0.0f ? w[static_cast<std::size_t>(t)] / total : 0.0f;
      }
    }
    return ax;
  }
  ax.taps = cubic ? 4 : 2;
  ax.index.resize(static_cast<std::size_t>(ax.taps * out));
  ax.weight.resize(static_cast<std::size_t>(ax.taps * out));
  for (std::int64_t o = 0; o < out; ++o) {
    const float fo = static_cast<float>(o);
    float src = p.align_corners ? scale * fo : scale * (fo + 0.5f) - 0.5f;
    if (!cubic && src < 0.0f) src = 0.0f;
    const std::int64_t i0 = std::min(static_cast<std::int64_t>(std::floor(src)), in - 1);
    const float l = std::clamp(src - static_cast<float>(i0), 0.0f, 1.0f);
    auto set = [&](std::int64_t t, std::int64_t i, float wt) {
      const auto k = static_cast<std::size_t>(t * out + o);
      ax.index[k] = static_cast<std::int32_t>(std::clamp<std::int64_t>(i, 0, in - 1));
      ax.weight[k] = wt;
    };
    if (cubic) {
      constexpr float A = -0.75f;
      set(0, i0 - 1, cubic_far(l + 1.0f, A));
      set(1, i0, cubic_near(l, A));
      set(2, i0 + 1, cubic_near(1.0f - l, A));
      set(3, i0 + 2, cubic_far(2.0f - l, A));
    } else {
      set(0, i0, 1.0f - l);
      set(1, i0 + 1, l);
    }
  }
  return ax;
}

// For the two-pass SIMD versions: true when resizing the columns first (rows of (Ho, W), then
// gathers along them) costs less than the rows first (gathers on the input rows, (H, Wo)).
// A gathered tap is counted as two contiguous ones.
inline bool interp_vertical_first(std::int64_t H, std::int64_t W, const InterpAxis& ah, const InterpAxis& aw) {
  const std::int64_t Ho = ah.out, Wo = aw.out;
  const std::int64_t horizontal_first = 2 * H * Wo * aw.taps + Ho * Wo * ah.taps;
  const std::int64_t vertical_first = Ho * W * ah.taps + 2 * Ho * Wo * aw.taps;
  return vertical_first < horizontal_first;
}

// used[i] = whether input index i is read by any tap of the axis.
inline std::vector<char> interp_used(std::int64_t in, const InterpAxis& a) {
  std::vector<char> used(static_cast<std::size_t>(in), 0);
  for (const std::int32_t i : a.index) used[static_cast<std::size_t>(i)] = 1;
  return used;
}
}  // namespace detail

inline void interpolate(scalar_tag, View<const float, 3> x, InterpParams p, View<float, 3> y) {
  detail::check_interpolate(x, y);
  const std::int64_t C = x.shape(0), Ho = y.shape(1), Wo = y.shape(2);
  const detail::InterpAxis ah = detail::interp_axis(x.shape(1), Ho, p), aw = detail::interp_axis(x.shape(2), Wo, p);
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t oh = 0; oh < Ho; ++oh)
      for (std::int64_t ow = 0; ow < Wo; ++ow) {
        float acc = 0.0f;
        for (std::int64_t i = 0; i < ah.taps; ++i) {
          const auto ki = static_cast<std::size_t>(i * Ho + oh);
          float row = 0.0f;
          for (std::int64_t j = 0; j < aw.taps; ++j) {
            const auto kj = static_cast<std::size_t>(j * Wo + ow);
            row += aw.weight[kj] * x(c, ah.index[ki], aw.index[kj]);
          }
          acc += ah.weight[ki] * row;
        }
        y(c, oh, ow) = acc;
      }
}

DSVL_DEVICE_KERNEL_REQUIRED(interpolate)

}  // namespace dsvl::kernels
