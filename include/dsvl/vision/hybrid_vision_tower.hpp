#pragma once
// HybridVisionTower<P> (SigLIP sizes at run time) or HybridVisionTower<P, kPreset>: DeepSeek-VL 7B's
// vision encoder (deepseek_vl/models/clip_encoder.py, concat_type "tuple"). For one image in [0, 1]
// at the SAM size S (1024):
//
//   high = SAM(normalize(x, sam_norm))                                          (576, C2)
//   low  = SigLIP(normalize(interpolate(x, siglip size, bilinear, antialias), siglip_norm))
//                                                                               (576, W)
//
// The resize is torchvision's Resize(image_size, antialias=True) on the un-normalised image, i.e.
// F.interpolate(mode="bilinear", align_corners=False, antialias=True); normalisation comes after it.
// Both outputs are row-major over their 24x24 grids, cell for cell, and go to the hybrid aligner.
//
// Weights under the tower's prefix ("vision_model." in a DeepSeek-VL checkpoint):
//   vision_tower_high.vision_tower.*  SAM (vision/sam_vit.hpp)
//   vision_tower_low.vision_tower.*   SigLIP (vision/siglip_vit.hpp)
//   high_layer_norm.*, low_layer_norm.*  built by the official class but never run; ignored

#include <cstdint>
#include <string>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/pixel_norm.hpp"
#include "dsvl/vision/sam_vit.hpp"
#include "dsvl/vision/siglip_vit.hpp"

namespace dsvl::vision {

template <KernelPolicy P, VitConfig LowFixed = kDynamicVit>
class HybridVisionTower {
 public:
  HybridVisionTower(const SamConfig& high, const PixelNorm& high_norm, const VitConfig& low, const PixelNorm& low_norm)
      : high_(high), low_(low), high_norm_(high_norm), low_norm_(low_norm) {
    DSVL_CHECK(high_.num_tokens() == low_.num_patches(), "HybridVisionTower", "SAM gives ", high_.num_tokens(),
               " features per image, SigLIP ", low_.num_patches(), "; the hybrid aligner pairs them one to one");
  }

  const SamVit<P>& high() const noexcept { return high_; }
  const SiglipVit<P, LowFixed>& low() const noexcept { return low_; }
  std::int64_t image_size() const noexcept { return high_.config().image_size; }
  std::int64_t num_tokens() const noexcept { return low_.num_patches(); }

  template <class V>
  void visit(V& v) {
    v.child("vision_tower_high.vision_tower", high_);
    v.child("vision_tower_low.vision_tower", low_);
    v.unused("high_layer_norm.");
    v.unused("low_layer_norm.");
  }

  // pixels (3, S, S) in [0, 1] -> high (576, C2), low (576, W). `resized`, when given, receives
  // the SigLIP branch's input before normalisation (3, s, s).
  void forward(View<const float, 3> pixels, View<float, 2> high, View<float, 2> low,
               ThreadPool& pool = ThreadPool::global(), View<float, 3> resized = {}) const {
    const std::int64_t S = image_size(), s = low_.config().image_size;
    DSVL_CHECK(pixels.shape(0) == 3 && pixels.shape(1) == S && pixels.shape(2) == S, "HybridVisionTower::forward",
               "pixels are (", pixels.shape(0), ", ", pixels.shape(1), ", ", pixels.shape(2), "), expected (3, ", S,
               ", ", S, ")");
    Tensor<float, 3> small({3, s, s});
    kernels::interpolate(typename P::kernel_tag{}, pixels,
                         kernels::InterpParams{kernels::InterpMode::bilinear, false, true}, small.view());
    if (resized.size() > 0) {
      DSVL_CHECK(resized.shape(0) == 3 && resized.shape(1) == s && resized.shape(2) == s,
                 "HybridVisionTower::forward", "resized is not (3, ", s, ", ", s, ")");
      for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t y = 0; y < s; ++y)
          for (std::int64_t i = 0; i < s; ++i) resized(c, y, i) = small(c, y, i);
    }
    normalize(small.view(), low_norm_);
    low_.forward(View<const float, 3>(small.view()), low, pool);

    high_.forward(View<const float, 3>(normalized(pixels, high_norm_).view()), high, pool);
  }

 private:
  SamVit<P> high_;
  SiglipVit<P, LowFixed> low_;
  PixelNorm high_norm_, low_norm_;
};

}  // namespace dsvl::vision
