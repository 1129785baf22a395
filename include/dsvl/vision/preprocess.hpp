#pragma once
// DeepSeek-VL's image preprocessing (deepseek_vl/models/image_processing_vlm.py, VLMImageProcessor)
// and DeepSeek-VL2's resize and pad (ImageOps.pad), exact to Pillow, on 8-bit images held as
// [H, W, C] uint8 (rows top to bottom, channels interleaved; <dsvl/io/image.hpp> decodes files
// into RGB).
//
//  - resize_bicubic: PIL.Image.resize((w, h), Image.BICUBIC) on an "L" or "RGB" image, byte for
//    byte. Pillow's convolution resampler in integer arithmetic (src/libImaging/Resample.c):
//      per axis, in -> out: scale = in/out, filterscale = max(scale, 1), support = 2*filterscale;
//      output index i reads inputs [max(int(c - support + 0.5), 0), min(int(c + support + 0.5), in))
//      with c = (i + 0.5)*scale, weighted by Keys' cubic (a = -0.5) at (j - c + 0.5) * (1/filterscale),
//      normalised to sum 1 in double, then rounded half away from zero to 22 fraction bits;
//      out = clamp((2^21 + sum w*x) >> 22, 0, 255).
//    One pass per axis whose size changes, each making a uint8 image (an intermediate rounded
//    and clipped like the output). When both run, their order depends on the Pillow release
//    (PillowVersion): horizontal first up to Pillow 12.1; 12.2 and 12.3 run the vertical pass
//    first for images over 100 times as tall as wide that shrink in height; 13.0 runs it first
//    whenever the height loses more than twice as many pixels as the width. The orders differ by
//    one in some bytes, so the release to match is a parameter (default: the current one, 13).
//    Upscaling uses the same formula (filterscale 1, 4 taps). Channels are resampled
//    independently, which is what Pillow does for "L" and "RGB" (it premultiplies "RGBA" and
//    "LA" by alpha first; that is not done here).
//    Exactness needs IEEE double arithmetic for the weights: every product in the weight
//    computation is rounded before it is used, so -ffp-contract=fast (fused multiply-add) cannot
//    change a weight; -ffast-math can and is not supported here.
//  - expand_to_square: expand2square, the pad to a square canvas of the background colour.
//  - contain_and_pad: ImageOps.pad, DeepSeek-VL2's aspect-preserving resize onto a canvas.
//  - VLMImageProcessorConfig and vlm_preprocess: the whole official pipeline for one image, to the
//    f32 pixel tensor [3, S, S]:
//      1. (w, h) -> (max(int(w / M * S), min_size), max(int(h / M * S), min_size)), M = max(w, h),
//         in double with truncation, so the long side becomes S;
//      2. resize_bicubic to that size (torchvision's resize of a PIL image calls Pillow);
//      3. expand2square with background int(mean * 255) per channel, the image pasted at
//         ((S - w) // 2, 0) or (0, (S - h) // 2);
//      4. x = float32(float64(u8) * rescale_factor), channels first;
//      5. if do_normalize: x = (x - float32(mean)) / float32(std) in float32 (transformers'
//         normalize).
//    DeepSeek-VL's released processors do not normalise (do_normalize false): the vision towers
//    normalise inside the model (CLIPVisionTower's pixel_mean and pixel_std). Janus-Pro's do, and
//    its tower does not.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/json.hpp"

namespace dsvl::vision {

namespace detail {

// Pillow's PRECISION_BITS for 8-bit images (32 - 8 - 2).
inline constexpr int kResampleBits = 22;

// The value of a product, rounded to double here: the compiler may not fuse it into a following
// addition (a fused multiply-add rounds once and can move a weight by one unit in the 22nd bit).
inline double rounded(double v) noexcept {
  volatile double r = v;
  return r;
}

// Keys' cubic convolution kernel with a = -0.5, support 2 (Pillow's bicubic_filter).
inline double bicubic_kernel(double x) noexcept {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) {
    const double t = rounded((a + 2.0) * x) - (a + 3.0);
    return rounded(rounded(t * x) * x) + 1;
  }
  if (x < 2.0) {
    const double u = rounded((x - 5) * x) + 8;
    const double v = rounded(u * x) - 4;
    return rounded(v * a);
  }
  return 0.0;
}

// One axis of a resize: output index i reads `count[i]` inputs from `first[i]` with the fixed-point
// weights weight[offset[i] .. offset[i] + count[i]).
struct ResampleAxis {
  std::vector<std::int32_t> first, count;
  std::vector<std::int64_t> offset;  // out + 1 entries
  std::vector<std::int32_t> weight;
  std::int32_t max_count = 0;
};

// Pillow's precompute_coeffs (box = the whole image) followed by normalize_coeffs_8bpc.
inline ResampleAxis bicubic_axis(std::int64_t in_size, std::int64_t out_size) {
  // Pillow passes the box edges as float: in1 - in0 is float(in_size) - 0.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / static_cast<double>(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = rounded(2.0 * filterscale);
  const double ss = 1.0 / filterscale;
  ResampleAxis ax;
  ax.first.resize(static_cast<std::size_t>(out_size));
  ax.count.resize(static_cast<std::size_t>(out_size));
  ax.offset.resize(static_cast<std::size_t>(out_size) + 1);
  ax.weight.reserve(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(2.0 * support + 2.0));
  std::vector<double> k;
  for (std::int64_t i = 0; i < out_size; ++i) {
    const double center = rounded((static_cast<double>(i) + 0.5) * scale);
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = static_cast<int>(in_size);
    xmax -= xmin;
    k.assign(static_cast<std::size_t>(std::max(xmax, 0)), 0.0);
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic_kernel(rounded((static_cast<double>(x + xmin) - center + 0.5) * ss));
      k[static_cast<std::size_t>(x)] = w;
      ww += w;
    }
    const auto idx = static_cast<std::size_t>(i);
    ax.first[idx] = xmin;
    ax.count[idx] = std::max(xmax, 0);
    ax.offset[idx] = static_cast<std::int64_t>(ax.weight.size());
    for (int x = 0; x < xmax; ++x) {
      double w = k[static_cast<std::size_t>(x)];
      if (ww != 0.0) w /= ww;
      const double f = rounded(w * static_cast<double>(1 << kResampleBits));
      ax.weight.push_back(static_cast<std::int32_t>(w < 0 ? -0.5 + f : 0.5 + f));
    }
    ax.max_count = std::max(ax.max_count, ax.count[idx]);
  }
  ax.offset[static_cast<std::size_t>(out_size)] = static_cast<std::int64_t>(ax.weight.size());
  return ax;
}

inline std::uint8_t clip_pixel(std::int32_t acc) noexcept {
  const std::int32_t v = acc >> kResampleBits;  // arithmetic shift, as Pillow's clip8
  return static_cast<std::uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// dst[j] = clip((2^21 + sum_t w[t] * src[t * stride + j]) >> 22) for j < L. Integer sums are exact,
// so any order of the taps gives Pillow's bytes; the fixed length lets the compiler keep the
// accumulators in vector registers.
template <int L>
inline void combine_rows_fixed(const std::uint8_t* src, std::ptrdiff_t stride, const std::int32_t* w, int taps,
                               std::uint8_t* dst) noexcept {
  std::int32_t acc[L];
  for (int j = 0; j < L; ++j) acc[j] = 1 << (kResampleBits - 1);
  for (int t = 0; t < taps; ++t) {
    const std::int32_t wt = w[t];
    const std::uint8_t* s = src + t * stride;
    for (int j = 0; j < L; ++j) acc[j] += wt * static_cast<std::int32_t>(s[j]);
  }
  for (int j = 0; j < L; ++j) dst[j] = clip_pixel(acc[j]);
}

// The same for any length n.
inline void combine_rows(const std::uint8_t* src, std::ptrdiff_t stride, const std::int32_t* w, int taps,
                         std::int64_t n, std::uint8_t* dst) noexcept {
  constexpr int kChunk = 64;
  std::int64_t j = 0;
  for (; j + kChunk <= n; j += kChunk) combine_rows_fixed<kChunk>(src + j, stride, w, taps, dst + j);
  if (j < n) {
    std::int32_t acc[kChunk];
    const int rest = static_cast<int>(n - j);
    for (int i = 0; i < rest; ++i) acc[i] = 1 << (kResampleBits - 1);
    for (int t = 0; t < taps; ++t) {
      const std::int32_t wt = w[t];
      const std::uint8_t* s = src + t * stride + j;
      for (int i = 0; i < rest; ++i) acc[i] += wt * static_cast<std::int32_t>(s[i]);
    }
    for (int i = 0; i < rest; ++i) dst[j + i] = clip_pixel(acc[i]);
  }
}

// Pillow's horizontal pass over rows [y0, y1) of `in` into rows [0, y1 - y0) of `out` (same
// height, the output width). Strips of rows are transposed so that each output column is a
// vertical combination of 64-byte lines, one byte per (row, channel) of the strip; the results,
// one line per output column, are transposed back.
inline void resample_horizontal(View<const std::uint8_t, 3> in, std::int64_t y0, std::int64_t y1, const ResampleAxis& ax,
                                View<std::uint8_t, 3> out, ThreadPool& pool) {
  constexpr int kLine = 64;
  const std::int64_t C = in.shape(2), W = in.shape(1), Wo = out.shape(1);
  const std::int64_t rows_per_strip = kLine / C;
  const std::int64_t strips = (y1 - y0 + rows_per_strip - 1) / rows_per_strip;
  pool.parallel_for(0, strips, [&](std::int64_t s0, std::int64_t s1) {
    std::vector<std::uint8_t> t(static_cast<std::size_t>(W * kLine), 0);   // [W, 64]: the strip, transposed
    std::vector<std::uint8_t> u(static_cast<std::size_t>(Wo * kLine), 0);  // [Wo, 64]: its output columns
    for (std::int64_t s = s0; s < s1; ++s) {
      const std::int64_t r0 = y0 + s * rows_per_strip, nr = std::min(rows_per_strip, y1 - r0);
      // In blocks of columns, so that the lines being filled stay in the L1 cache.
      constexpr std::int64_t kBlock = 64;
      for (std::int64_t xb = 0; xb < W; xb += kBlock) {
        const std::int64_t xe = std::min(xb + kBlock, W);
        for (std::int64_t r = 0; r < nr; ++r) {
          const std::uint8_t* src = &in(r0 + r, 0, 0);
          std::uint8_t* dst = t.data() + r * C;
          if (C == 3) {
            // Four bytes at a time: the fourth lands on the next row's first byte (written after
            // this row) or on the unused last byte of the line; the image's last pixel copies three.
            const std::int64_t e4 = std::min(xe, W - 1);
            std::int64_t x = xb;
            for (; x < e4; ++x) std::memcpy(dst + x * kLine, src + 3 * x, 4);
            for (; x < xe; ++x) std::memcpy(dst + x * kLine, src + 3 * x, 3);
          } else {
            for (std::int64_t x = xb; x < xe; ++x)
              std::memcpy(dst + x * kLine, src + C * x, static_cast<std::size_t>(C));
          }
        }
      }
      for (std::int64_t xo = 0; xo < Wo; ++xo) {
        const auto i = static_cast<std::size_t>(xo);
        combine_rows_fixed<kLine>(t.data() + static_cast<std::int64_t>(ax.first[i]) * kLine, kLine,
                                  ax.weight.data() + ax.offset[i], ax.count[i], u.data() + xo * kLine);
      }
      for (std::int64_t r = 0; r < nr; ++r) {
        std::uint8_t* dst = &out(r0 + r - y0, 0, 0);
        const std::uint8_t* src = u.data() + r * C;
        if (C == 3) {  // as above, the fourth byte is the next pixel's first
          std::int64_t x = 0;
          for (; x + 1 < Wo; ++x) std::memcpy(dst + 3 * x, src + x * kLine, 4);
          std::memcpy(dst + 3 * x, src + x * kLine, 3);
        } else {
          for (std::int64_t x = 0; x < Wo; ++x) std::memcpy(dst + C * x, src + x * kLine, static_cast<std::size_t>(C));
        }
      }
    }
  });
}

// Pillow's vertical pass: out row i combines rows first[i] ... of `in` (whole rows at once).
inline void resample_vertical(View<const std::uint8_t, 3> in, const ResampleAxis& ax, View<std::uint8_t, 3> out,
                              ThreadPool& pool) {
  const std::int64_t n = out.shape(1) * out.shape(2), Ho = out.shape(0);
  const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(n, 1));
  pool.parallel_for(0, Ho, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t yo = b; yo < e; ++yo) {
      const auto i = static_cast<std::size_t>(yo);
      combine_rows(&in(ax.first[i], 0, 0), in.stride(0), ax.weight.data() + ax.offset[i], ax.count[i], n,
                   &out(yo, 0, 0));
    }
  }, grain);
}

inline void check_image(const View<const std::uint8_t, 3>& v, const char* where, const char* what) {
  DSVL_CHECK(v.shape(2) >= 1 && v.shape(2) <= 64, where, what, " has ", v.shape(2), " channels; 1 to 64 are supported");
  DSVL_CHECK(v.shape(2) == 1 || v.stride(2) == 1, where, what, " must have packed channels (stride 1)");
  DSVL_CHECK(v.shape(1) <= 1 || v.stride(1) == v.shape(2), where, what, " must have packed pixels within a row");
}

}  // namespace detail

// The Pillow release whose resize to reproduce (see the header comment: they order the two
// passes differently). DeepSeek-VL and DeepSeek-VL2 pin no Pillow, so the official processors
// use whichever is installed.
enum class PillowVersion : std::uint8_t {
  before_12_2,  // Pillow up to 12.1 (the releases of 2024, when DeepSeek-VL and VL2 came out)
  v12_2,        // Pillow 12.2 and 12.3
  v13,          // Pillow 13.0
};
inline constexpr PillowVersion kDefaultPillowVersion = PillowVersion::v13;

// Whether `version` runs the vertical pass before the horizontal one for an h x w -> ho x wo
// resize that needs both.
constexpr bool pillow_vertical_first(PillowVersion version, std::int64_t h, std::int64_t w, std::int64_t ho,
                                     std::int64_t wo) noexcept {
  switch (version) {
    case PillowVersion::before_12_2: return false;
    case PillowVersion::v12_2: return h > w * 100 && ho < h;
    case PillowVersion::v13: return h - ho > 0 && h - ho > 2 * (w - wo);
  }
  return false;
}

// Pillow's Image.resize((out_w, out_h), Image.BICUBIC) of `in` [H, W, C] into `out` [Ho, Wo, C]
// (see the header comment), as `version` computes it. Sizes >= 1 and below 2^31; rows may be
// strided, pixels within a row packed; `out` must not overlap `in`. Work is split across `pool`.
inline void resize_bicubic(View<const std::uint8_t, 3> in, View<std::uint8_t, 3> out,
                           PillowVersion version = kDefaultPillowVersion, ThreadPool& pool = ThreadPool::global()) {
  constexpr const char* where = "vision::resize_bicubic";
  detail::check_image(in, where, "the input");
  detail::check_image(View<const std::uint8_t, 3>(out), where, "the output");
  DSVL_CHECK(in.shape(2) == out.shape(2), where, "the input has ", in.shape(2), " channels, the output ",
             out.shape(2));
  const std::int64_t H = in.shape(0), W = in.shape(1), Ho = out.shape(0), Wo = out.shape(1), C = in.shape(2);
  DSVL_CHECK(H >= 1 && W >= 1 && Ho >= 1 && Wo >= 1, where, "sizes must be at least 1: ", H, "x", W, " -> ", Ho,
             "x", Wo);
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  DSVL_CHECK(H < kMax && W < kMax && Ho < kMax && Wo < kMax && W * C < kMax && Wo * C < kMax, where,
             "sizes must fit 32-bit indices");
  const bool horizontal = Wo != W, vertical = Ho != H;
  if (!horizontal && !vertical) {
    for (std::int64_t y = 0; y < H; ++y) std::copy_n(&in(y, 0, 0), W * C, &out(y, 0, 0));
    return;
  }
  const detail::ResampleAxis ay = detail::bicubic_axis(H, Ho);
  if (!horizontal) {
    detail::resample_vertical(in, ay, out, pool);
    return;
  }
  const detail::ResampleAxis ax = detail::bicubic_axis(W, Wo);
  if (!vertical) {
    detail::resample_horizontal(in, 0, H, ax, out, pool);
    return;
  }
  if (pillow_vertical_first(version, H, W, Ho, Wo)) {
    Tensor<std::uint8_t, 3> tmp({Ho, W, C});
    detail::resample_vertical(in, ay, tmp.view(), pool);
    detail::resample_horizontal(std::as_const(tmp).view(), 0, Ho, ax, out, pool);
    return;
  }
  // The horizontal pass covers only the input rows that the vertical pass reads.
  const std::int64_t y0 = ay.first.front();
  const std::int64_t y1 = ay.first.back() + ay.count.back();
  Tensor<std::uint8_t, 3> tmp({y1 - y0, Wo, C});
  detail::resample_horizontal(in, y0, y1, ax, tmp.view(), pool);
  detail::ResampleAxis shifted = ay;
  for (auto& f : shifted.first) f -= static_cast<std::int32_t>(y0);
  detail::resample_vertical(std::as_const(tmp).view(), shifted, out, pool);
}

inline Tensor<std::uint8_t, 3> resize_bicubic(View<const std::uint8_t, 3> in, std::int64_t out_h, std::int64_t out_w,
                                              PillowVersion version = kDefaultPillowVersion,
                                              ThreadPool& pool = ThreadPool::global()) {
  DSVL_CHECK(out_h >= 1 && out_w >= 1, "vision::resize_bicubic", "sizes must be at least 1: ", out_h, "x", out_w);
  Tensor<std::uint8_t, 3> out({out_h, out_w, in.shape(2)});
  resize_bicubic(in, out.view(), version, pool);
  return out;
}

// expand2square: `image` [h, w, C] on a square canvas of side max(h, w) filled with `background`
// (one value per channel), pasted at ((side - w) / 2, (side - h) / 2) rounded down. A square image
// is returned as a copy.
inline Tensor<std::uint8_t, 3> expand_to_square(View<const std::uint8_t, 3> image,
                                                std::span<const std::uint8_t> background) {
  constexpr const char* where = "vision::expand_to_square";
  detail::check_image(image, where, "the image");
  const std::int64_t h = image.shape(0), w = image.shape(1), C = image.shape(2), side = std::max(h, w);
  DSVL_CHECK(static_cast<std::int64_t>(background.size()) == C, where, "the background has ", background.size(),
             " values, the image ", C, " channels");
  Tensor<std::uint8_t, 3> out({side, side, C});
  for (std::int64_t p = 0; p < side * side; ++p)
    for (std::int64_t c = 0; c < C; ++c) out.data()[p * C + c] = background[static_cast<std::size_t>(c)];
  const std::int64_t top = (side - h) / 2, left = (side - w) / 2;
  for (std::int64_t y = 0; y < h; ++y) std::copy_n(&image(y, 0, 0), w * C, &out(top + y, left, 0));
  return out;
}

// ImageOps.contain's size {h, w} for an h x w image fitted into out_h x out_w with its aspect
// ratio kept: where the ratios w/h and out_w/out_h differ, the other side becomes
// round(h / w * out_w) or round(w / h * out_h) (Python's round: half to even). It can be 0 for an
// extreme aspect ratio.
inline std::array<std::int64_t, 2> contain_size(std::int64_t h, std::int64_t w, std::int64_t out_h,
                                                std::int64_t out_w) {
  DSVL_CHECK(h >= 1 && w >= 1 && out_h >= 1 && out_w >= 1, "vision::contain_size", "sizes must be at least 1: ", h, "x",
             w, " into ", out_h, "x", out_w);
  const double im_ratio = static_cast<double>(w) / static_cast<double>(h);
  const double dest_ratio = static_cast<double>(out_w) / static_cast<double>(out_h);
  if (im_ratio > dest_ratio)
    return {static_cast<std::int64_t>(std::nearbyint(static_cast<double>(h) / static_cast<double>(w) *
                                                     static_cast<double>(out_w))),
            out_w};
  if (im_ratio < dest_ratio)
    return {out_h, static_cast<std::int64_t>(std::nearbyint(static_cast<double>(w) / static_cast<double>(h) *
                                                            static_cast<double>(out_h)))};
  return {out_h, out_w};
}

// ImageOps.pad(image, (out_w, out_h), Image.BICUBIC, color, centering): `image` [h, w, C] resized
// with resize_bicubic to contain_size, then pasted on an out_h x out_w canvas of `color` (one
// value per channel) at x = round((out_w - w') * cx) when the width differs, else at
// y = round((out_h - h') * cy) (half to even; centering clamped to [0, 1]). DeepSeek-VL2's global
// view and tile canvas (color 127, centering 0.5). A side that contain_size makes 0 leaves the
// canvas empty, as in Pillow 13 (older releases raise an error).
inline Tensor<std::uint8_t, 3> contain_and_pad(View<const std::uint8_t, 3> image, std::int64_t out_h, std::int64_t out_w,
                                               std::span<const std::uint8_t> color,
                                               std::array<double, 2> centering = {0.5, 0.5},
                                               PillowVersion version = kDefaultPillowVersion,
                                               ThreadPool& pool = ThreadPool::global()) {
  constexpr const char* where = "vision::contain_and_pad";
  detail::check_image(image, where, "the image");
  const std::int64_t C = image.shape(2);
  DSVL_CHECK(static_cast<std::int64_t>(color.size()) == C, where, "the colour has ", color.size(), " values, the image ",
             C, " channels");
  const auto [h, w] = contain_size(image.shape(0), image.shape(1), out_h, out_w);
  Tensor<std::uint8_t, 3> out({out_h, out_w, C});
  if (h == out_h && w == out_w) {
    resize_bicubic(image, out.view(), version, pool);
    return out;
  }
  for (std::int64_t p = 0; p < out_h * out_w; ++p)
    for (std::int64_t c = 0; c < C; ++c) out.data()[p * C + c] = color[static_cast<std::size_t>(c)];
  if (h == 0 || w == 0) return out;
  const auto offset = [](std::int64_t free, double centre) {
    return static_cast<std::int64_t>(std::nearbyint(static_cast<double>(free) * std::clamp(centre, 0.0, 1.0)));
  };
  const std::int64_t x = w != out_w ? offset(out_w - w, centering[0]) : 0;
  const std::int64_t y = w != out_w ? 0 : offset(out_h - h, centering[1]);
  resize_bicubic(image, out.view().slice(0, y, y + h).slice(1, x, x + w), version, pool);
  return out;
}

// VLMImageProcessor's settings, named as in preprocessor_config.json; the defaults are the
// class's (image_size has none and must be set).
struct VLMImageProcessorConfig {
  std::int64_t image_size = 0;
  std::int64_t min_size = 14;
  std::array<double, 3> image_mean{0.48145466, 0.4578275, 0.40821073};
  std::array<double, 3> image_std{0.26862954, 0.26130258, 0.27577711};
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;

  bool operator==(const VLMImageProcessorConfig&) const = default;
};

// deepseek-ai/deepseek-vl-7b-{base,chat}: 1024 px for SAM (and, after an in-model resize, SigLIP),
// CLIP mean and std, not normalised by the processor.
inline constexpr VLMImageProcessorConfig kDeepSeekVL7BImageProcessor{
    1024, 14, {0.48145466, 0.4578275, 0.40821073}, {0.26862954, 0.26130258, 0.27577711}, 1.0 / 255.0, false};
// deepseek-ai/deepseek-vl-1.3b-{base,chat}: 384 px for SigLIP, mean and std 0.5, not normalised by
// the processor.
inline constexpr VLMImageProcessorConfig kDeepSeekVL1_3BImageProcessor{
    384, 14, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, 1.0 / 255.0, false};
// deepseek-ai/Janus-Pro-1B and -7B: 384 px, mean and std 0.5, normalised by the processor (the
// tower does not normalise).
inline constexpr VLMImageProcessorConfig kJanusProImageProcessor{
    384, 14, {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}, 1.0 / 255.0, true};

// Reads the fields above from a parsed preprocessor_config.json (absent fields keep the class
// defaults; image_size is required). Errors name `where` and the field.
inline VLMImageProcessorConfig parse_vlm_image_processor_config(const nlohmann::json& j, const std::string& where) {
  VLMImageProcessorConfig c;
  c.image_size = io::json_get<std::int64_t>(j, "image_size", where);
  c.min_size = io::json_get_or<std::int64_t>(j, "min_size", c.min_size, where);
  config::check_range(c.image_size, config::kPixels, where, "image_size");
  config::check_range(c.min_size, config::kPixels, where, "min_size");
  const auto triple = [&](const char* key, std::array<double, 3> fallback) {
    const auto v = io::json_get_or<std::vector<double>>(j, key, {fallback.begin(), fallback.end()}, where);
    if (v.size() != 3) fail(where, "field '", key, "' has ", v.size(), " values, expected 3");
    return std::array<double, 3>{v[0], v[1], v[2]};
  };
  c.image_mean = triple("image_mean", c.image_mean);
  c.image_std = triple("image_std", c.image_std);
  c.rescale_factor = io::json_get_or<double>(j, "rescale_factor", c.rescale_factor, where);
  c.do_normalize = io::json_get_or<bool>(j, "do_normalize", c.do_normalize, where);
  return c;
}

inline VLMImageProcessorConfig read_vlm_image_processor_config(const std::filesystem::path& file) {
  return parse_vlm_image_processor_config(io::read_json(file), file.string());
}

namespace detail {
inline void check_config(const VLMImageProcessorConfig& c, const char* where) {
  DSVL_CHECK(c.min_size >= 1 && c.image_size >= c.min_size, where, "image_size (", c.image_size,
             ") must be at least min_size (", c.min_size, ") and min_size at least 1");
  DSVL_CHECK(c.image_size < (1 << 16), where, "image_size ", c.image_size, " is too large");
  for (int i = 0; i < 3; ++i) {
    DSVL_CHECK(c.image_mean[i] >= 0.0 && c.image_mean[i] <= 1.0, where, "image_mean[", i, "] = ", c.image_mean[i],
               " is outside [0, 1]");
    DSVL_CHECK(!c.do_normalize || c.image_std[i] != 0.0, where, "image_std[", i, "] is 0");
  }
}
}  // namespace detail

// The pad colour: int(mean * 255) per channel.
inline std::array<std::uint8_t, 3> vlm_background_color(const VLMImageProcessorConfig& c) {
  std::array<std::uint8_t, 3> bg{};
  for (std::size_t i = 0; i < 3; ++i) bg[i] = static_cast<std::uint8_t>(static_cast<int>(c.image_mean[i] * 255));
  return bg;
}

// The size {h, w} that the resize step gives an image of size {h, w}: the long side becomes
// image_size, the other side int(side / long * image_size), at least min_size.
inline std::array<std::int64_t, 2> vlm_resized_size(std::int64_t h, std::int64_t w, const VLMImageProcessorConfig& c) {
  DSVL_CHECK(h >= 1 && w >= 1, "vision::vlm_resized_size", "the image is empty (", h, "x", w, ")");
  const double m = static_cast<double>(std::max(h, w)), s = static_cast<double>(c.image_size);
  const auto side = [&](std::int64_t x) {
    return std::max<std::int64_t>(static_cast<std::int64_t>(static_cast<double>(x) / m * s), c.min_size);
  };
  return {side(h), side(w)};
}

// Resize and pad: RGB [h, w, 3] -> the square [S, S, 3] uint8 image that the processor converts.
inline Tensor<std::uint8_t, 3> vlm_resize_pad(View<const std::uint8_t, 3> rgb, const VLMImageProcessorConfig& c,
                                              PillowVersion version = kDefaultPillowVersion,
                                              ThreadPool& pool = ThreadPool::global()) {
  constexpr const char* where = "vision::vlm_resize_pad";
  detail::check_config(c, where);
  detail::check_image(rgb, where, "the image");
  DSVL_CHECK(rgb.shape(2) == 3, where, "the image has ", rgb.shape(2), " channels, expected RGB");
  const auto [h, w] = vlm_resized_size(rgb.shape(0), rgb.shape(1), c);
  const Tensor<std::uint8_t, 3> resized = resize_bicubic(rgb, h, w, version, pool);
  return expand_to_square(resized.view(), vlm_background_color(c));
}

// The square uint8 image [S, S, 3] -> pixel values [3, S, S] f32: rescaled, then normalised if
// c.do_normalize (see the header comment for the exact float operations).
inline void vlm_pixel_values(View<const std::uint8_t, 3> square, const VLMImageProcessorConfig& c,
                             View<float, 3> out) {
  constexpr const char* where = "vision::vlm_pixel_values";
  detail::check_image(square, where, "the image");
  const std::int64_t S = square.shape(0);
  DSVL_CHECK(square.shape(1) == S && square.shape(2) == 3, where, "the image is ", square.shape(0), "x",
             square.shape(1), "x", square.shape(2), ", expected a square RGB image");
  DSVL_CHECK(out.shape(0) == 3 && out.shape(1) == S && out.shape(2) == S, where, "the output is ", out.shape(0), "x",
             out.shape(1), "x", out.shape(2), ", expected 3x", S, "x", S);
  DSVL_CHECK(out.inner_contiguous(), where, "the output rows must be contiguous");
  float table[3][256];
  for (int ch = 0; ch < 3; ++ch) {
    const float mean = static_cast<float>(c.image_mean[ch]), std = static_cast<float>(c.image_std[ch]);
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(static_cast<double>(v) * c.rescale_factor);
      table[ch][v] = c.do_normalize ? (x - mean) / std : x;
    }
  }
  for (std::int64_t ch = 0; ch < 3; ++ch)
    for (std::int64_t y = 0; y < S; ++y) {
      const std::uint8_t* src = &square(y, 0, ch);
      float* dst = &out(ch, y, 0);
      for (std::int64_t x = 0; x < S; ++x) dst[x] = table[ch][src[3 * x]];
    }
}

// The whole processor for one RGB image [h, w, 3]: pixel values [3, S, S] f32 into `out` (for
// example one image of a batch [n, 3, S, S]).
inline void vlm_preprocess(View<const std::uint8_t, 3> rgb, const VLMImageProcessorConfig& c, View<float, 3> out,
                           PillowVersion version = kDefaultPillowVersion, ThreadPool& pool = ThreadPool::global()) {
  const Tensor<std::uint8_t, 3> square = vlm_resize_pad(rgb, c, version, pool);
  vlm_pixel_values(square.view(), c, out);
}

inline Tensor<float, 3> vlm_preprocess(View<const std::uint8_t, 3> rgb, const VLMImageProcessorConfig& c,
                                       PillowVersion version = kDefaultPillowVersion,
                                       ThreadPool& pool = ThreadPool::global()) {
  detail::check_config(c, "vision::vlm_preprocess");
  Tensor<float, 3> out({3, c.image_size, c.image_size});
  vlm_preprocess(rgb, c, out.view(), version, pool);
  return out;
}

}  // namespace dsvl::vision
