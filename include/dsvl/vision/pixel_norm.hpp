#pragma once
// PixelNorm: the per-channel normalisation (x - mean) / std that DeepSeek-VL's CLIPVisionTower
// applies to its input when its params give pixel_mean and pixel_std (torchvision's Normalize:
// mean and std rounded to f32, then a subtraction and a division in f32). The identity (mean 0,
// std 1) stands for a tower without them.

#include <array>
#include <cstdint>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/view.hpp"

namespace dsvl::vision {

struct PixelNorm {
  std::array<double, 3> mean{0.0, 0.0, 0.0};
  std::array<double, 3> std{1.0, 1.0, 1.0};

  constexpr bool is_identity() const noexcept { return *this == PixelNorm{}; }

  // Every field once (core/config.hpp), as a tower's params give them.
  static constexpr const char* kName = "PixelNorm";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.field("pixel_mean", c.mean, std::array<double, 3>{0.0, 0.0, 0.0});
    v.field("pixel_std", c.std, std::array<double, 3>{1.0, 1.0, 1.0});
  }

  constexpr bool operator==(const PixelNorm&) const = default;
};

// CLIP's statistics (DeepSeek-VL 7B's SAM branch) and SigLIP's 0.5 / 0.5 (maps [0, 1] to [-1, 1]).
inline constexpr PixelNorm kClipPixelNorm{{0.48145466, 0.4578275, 0.40821073}, {0.26862954, 0.26130258, 0.27577711}};
inline constexpr PixelNorm kSiglipPixelNorm{{0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}};

// In place on pixels (3, H, W).
inline void normalize(View<float, 3> pixels, const PixelNorm& norm) {
  DSVL_CHECK(pixels.shape(0) == 3, "vision::normalize", "pixels have ", pixels.shape(0),
             " channels, expected 3 (RGB)");
  if (norm.is_identity()) return;
  for (std::int64_t c = 0; c < 3; ++c) {
    const float mean = static_cast<float>(norm.mean[static_cast<std::size_t>(c)]);
    const float sd = static_cast<float>(norm.std[static_cast<std::size_t>(c)]);
    for (std::int64_t y = 0; y < pixels.shape(1); ++y)
      for (std::int64_t x = 0; x < pixels.shape(2); ++x) {
        float& v = pixels(c, y, x);
        v = (v - mean) / sd;
      }
  }
}

// torchvision's ToTensor then Normalize: rgb [H, W, 3] uint8 -> out (3, H, W) = (x / 255 - mean) / std
// in f32.
inline void to_pixel_values(View<const std::uint8_t, 3> rgb, const PixelNorm& norm, View<float, 3> out) {
  const std::int64_t H = rgb.shape(0), W = rgb.shape(1);
  DSVL_CHECK(rgb.shape(2) == 3 && out.shape(0) == 3 && out.shape(1) == H && out.shape(2) == W, "vision::to_pixel_values",
             "the image is [", H, ", ", W, ", ", rgb.shape(2), "] and out (", out.shape(0), ", ", out.shape(1), ", ",
             out.shape(2), "), expected [H, W, 3] and (3, H, W)");
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t y = 0; y < H; ++y)
      for (std::int64_t x = 0; x < W; ++x) out(c, y, x) = static_cast<float>(rgb(y, x, c)) / 255.0f;
  normalize(out, norm);
}

// A normalised copy of pixels (3, H, W), for towers that must not change their input.
inline Tensor<float, 3> normalized(View<const float, 3> pixels, const PixelNorm& norm) {
  Tensor<float, 3> x({pixels.shape(0), pixels.shape(1), pixels.shape(2)});
  for (std::int64_t c = 0; c < x.shape(0); ++c)
    for (std::int64_t y = 0; y < x.shape(1); ++y)
      for (std::int64_t i = 0; i < x.shape(2); ++i) x(c, y, i) = pixels(c, y, i);
  normalize(x.view(), norm);
  return x;
}

}  // namespace dsvl::vision
