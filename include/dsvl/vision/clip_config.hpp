#pragma once
// ClipConfig: the sizes of the CLIP ViT that DeepSeek-OCR runs on SAM's output map
// (deepencoder/clip_sdpa.py, VitModel from build_clip_l with vit_model_cfg), read from the
// "clip-l-14-224" entry of its config.json's vision_config.width.
//
// Keys of that entry: width, layers, heads, image_size, patch_size. The official code fixes the
// rest in vit_model_cfg, and they are fields here too: mlp_ratio 4 (ffn_hidden_size 4096 for
// width 1024) and LayerNorm eps 1e-5 (layernorm_epsilon, pre_layernorm_epsilon).
//
// Derived sizes:
//   grid()         = image_size / patch_size     the side of the stored position table (16 at 224/14)
//   num_positions()= grid()^2 + 1                its rows: the class token's, then the grid row-major
//   head_dim()     = width / heads
//   mlp_dim()      = int(width * mlp_ratio)

#include <cstdint>
#include <string>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"

namespace dsvl::vision {

struct ClipConfig {
  std::int64_t image_size = 224;
  std::int64_t patch_size = 14;
  std::int64_t width = 1024;
  std::int64_t layers = 24;
  std::int64_t heads = 16;
  double mlp_ratio = 4.0;
  double layer_norm_eps = 1e-5;

  constexpr std::int64_t grid() const noexcept { return patch_size > 0 ? image_size / patch_size : 0; }
  constexpr std::int64_t num_positions() const noexcept { return grid() * grid() + 1; }
  constexpr std::int64_t head_dim() const noexcept { return heads > 0 ? width / heads : 0; }
  constexpr std::int64_t mlp_dim() const noexcept {
    return static_cast<std::int64_t>(static_cast<double>(width) * mlp_ratio);
  }

  // Every field once (core/config.hpp); the keys are those of the "clip-l-14-224" entry.
  static constexpr const char* kName = "ClipConfig";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.field("image_size", c.image_size, std::int64_t{224}, config::kPixels);
    v.field("patch_size", c.patch_size, std::int64_t{14}, config::kPixels);
    v.field("width", c.width, config::required, config::kWidths);
    v.field("layers", c.layers, config::required, config::kLayers);
    v.field("heads", c.heads, config::required, config::kHeads);
    v.fixed("mlp_ratio", c.mlp_ratio);
    v.fixed("layer_norm_eps", c.layer_norm_eps);
  }

  constexpr bool operator==(const ClipConfig&) const = default;
};

// CLIP-L/14 at 224 px (DeepSeek-OCR): 1024 wide, 24 blocks of 16 heads x 64, MLP 4096, 257 positions.
inline constexpr ClipConfig kClipLarge14_224{};

using config::check_matches_preset;
using config::differences;
using config::to_string;

// Checks what a forward pass relies on; errors name `where` and the field.
inline void check_config(const ClipConfig& c, const std::string& where) {
  DSVL_CHECK(c.patch_size >= 1 && c.image_size >= c.patch_size, where, "patch_size (", c.patch_size,
             ") must be at least 1 and at most image_size (", c.image_size, ")");
  DSVL_CHECK(c.width >= 1 && c.heads >= 1 && c.width % c.heads == 0, where, "width (", c.width,
             ") must be a positive multiple of heads (", c.heads, ")");
  DSVL_CHECK(c.layers >= 0, where, "layers must be non-negative, got ", c.layers);
  DSVL_CHECK(c.mlp_dim() >= 1, where, "mlp_ratio ", c.mlp_ratio, " gives an empty MLP");
}

}  // namespace dsvl::vision
