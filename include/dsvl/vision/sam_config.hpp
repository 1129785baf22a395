#pragma once
// SamConfig: the sizes of a SAM ViTDet image encoder as DeepSeek's models run it, with presets and
// readers:
//   - DeepSeek-VL 7B's high-resolution branch (deepseek_vl/models/sam.py, ImageEncoderViT built by
//     create_sam_vit("sam_b_downsample")): neck outputs resized to 96x96, then two downsampling
//     convolutions, plus the HD path (neck_hd on the first global block) (kSamBDownsample);
//   - DeepSeek-OCR's SAM-B (deepencoder/sam_vary_sdpa.py, build_sam_vit_b): the neck followed
//     directly by the two downsampling convolutions `net_2` and `net_3`, no resize and no HD path,
//     at any image side that is a multiple of the patch (kSamBOcr).
//
// Field names follow the official code: the SAM_MODEL_CONFIG entries (DeepSeek-VL) and the
// `sam_vit_b` entry of DeepSeek-OCR's vision_config give width, layers, heads,
// global_attn_indexes and downsample_channels; prompt_embed_dim (the neck width) and patch_size
// are SAMViTCfg fields that no released entry overrides (256 and 16); image_size (the side that
// pos_embed and the global blocks' rel-pos tables are stored for) comes from high_res_cfg or is
// 1024. The official code fixes the rest in code, and they are fields here too: mlp_ratio 4,
// window_size 14, LayerNorm eps 1e-6 in the blocks and in LayerNorm2d, neck_resize (96: the
// bilinear resize of the neck outputs before the downsampling convolutions; 0: none) and
// hd_branch (the HD path and DeepSeek-VL's weight names).
//
// Derived sizes, for an input of image_size (the `_at` forms for another side s, grid g = s / 16):
//   grid()           = image_size / patch_size      tokens per side (64 at 1024 px)
//   head_dim()       = width / heads
//   mlp_dim()        = int(width * mlp_ratio)
//   padded_grid()    = grid rounded up to a multiple of window_size (70 for 64 at 14): window
//                      blocks zero-pad their normed input at the bottom and right to this size
//   hd_block()       = the first index of global_attn_indexes: the block whose output feeds neck_hd
//   out_grid()       = neck_resize (or the grid) after two 3x3 stride-2 padding-1 convolutions
//                      (96 -> 48 -> 24; OCR: 64 -> 32 -> 16 at 1024 px, 40 -> 20 -> 10 at 640)
//   num_tokens()     = out_grid()^2 (576; OCR 256 at 1024 px), out_dim() = downsample_channels[1]

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/inline_list.hpp"
#include "dsvl/io/json_get.hpp"

namespace dsvl::vision {

struct SamConfig {
  std::int64_t image_size = 1024;
  std::int64_t patch_size = 16;
  std::int64_t width = 768;
  std::int64_t layers = 12;
  std::int64_t heads = 12;
  double mlp_ratio = 4.0;
  std::int64_t window_size = 14;
  InlineList<std::int64_t, 16> global_attn_indexes{2, 5, 8, 11};
  std::int64_t prompt_embed_dim = 256;
  std::array<std::int64_t, 2> downsample_channels{512, 1024};
  std::int64_t neck_resize = 96;
  double layer_norm_eps = 1e-6;
  double layer_norm2d_eps = 1e-6;
  bool hd_branch = true;

  constexpr std::int64_t grid() const noexcept { return patch_size > 0 ? image_size / patch_size : 0; }
  constexpr std::int64_t num_patches() const noexcept { return grid() * grid(); }
  constexpr std::int64_t head_dim() const noexcept { return heads > 0 ? width / heads : 0; }
  constexpr std::int64_t mlp_dim() const noexcept {
    return static_cast<std::int64_t>(static_cast<double>(width) * mlp_ratio);
  }
  constexpr std::int64_t grid_at(std::int64_t side) const noexcept { return patch_size > 0 ? side / patch_size : 0; }
  constexpr std::int64_t padded_grid_at(std::int64_t g) const noexcept {
    return window_size > 0 ? (g + window_size - 1) / window_size * window_size : 0;
  }
  constexpr std::int64_t padded_grid() const noexcept { return padded_grid_at(grid()); }
  constexpr bool is_global(std::int64_t block) const noexcept {
    for (const auto g : global_attn_indexes)
      if (g == block) return true;
    return false;
  }
  constexpr std::int64_t hd_block() const noexcept { return global_attn_indexes.empty() ? -1 : global_attn_indexes.front(); }
  // Side of the attention grid of a block (window_size or grid()), and its rel-pos table length.
  constexpr std::int64_t attn_side(std::int64_t block) const noexcept { return is_global(block) ? grid() : window_size; }
  constexpr std::int64_t rel_pos_len(std::int64_t block) const noexcept { return 2 * attn_side(block) - 1; }
  static constexpr std::int64_t conv_s2_out(std::int64_t n) noexcept { return (n + 2 - 3) / 2 + 1; }
  // The side the downsampling convolutions start from, for a token grid g.
  constexpr std::int64_t neck_out_grid(std::int64_t g) const noexcept { return neck_resize > 0 ? neck_resize : g; }
  constexpr std::int64_t out_grid_at(std::int64_t side) const noexcept {
    return conv_s2_out(conv_s2_out(neck_out_grid(grid_at(side))));
  }
  constexpr std::int64_t num_tokens_at(std::int64_t side) const noexcept { return out_grid_at(side) * out_grid_at(side); }
  constexpr std::int64_t mid_grid() const noexcept { return conv_s2_out(neck_out_grid(grid())); }
  constexpr std::int64_t out_grid() const noexcept { return out_grid_at(image_size); }
  constexpr std::int64_t num_tokens() const noexcept { return num_tokens_at(image_size); }
  constexpr std::int64_t out_dim() const noexcept { return downsample_channels[1]; }

  // Every field once (core/config.hpp). The keys are SAMViTCfg's: SAM_MODEL_CONFIG entries give
  // width, layers, heads, global_attn_indexes and downsample_channels; prompt_embed_dim and
  // patch_size take SAMViTCfg's defaults; image_size comes from high_res_cfg. The rest the official
  // code fixes.
  static constexpr const char* kName = "SamConfig";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.field("image_size", c.image_size, std::int64_t{1024}, config::kPixels);
    v.field("patch_size", c.patch_size, std::int64_t{16}, config::kPixels);
    v.field("width", c.width, config::required, config::kWidths);
    v.field("layers", c.layers, config::required, config::kLayers);
    v.field("heads", c.heads, config::required, config::kHeads);
    v.fixed("mlp_ratio", c.mlp_ratio);
    v.fixed("window_size", c.window_size);
    v.field("global_attn_indexes", c.global_attn_indexes, config::required, config::kLayers);
    v.field("prompt_embed_dim", c.prompt_embed_dim, std::int64_t{256}, config::kWidths);
    v.field("downsample_channels", c.downsample_channels, config::required, config::kWidths);
    v.fixed("neck_resize", c.neck_resize);
    v.fixed("layer_norm_eps", c.layer_norm_eps);
    v.fixed("layer_norm2d_eps", c.layer_norm2d_eps);
    v.fixed("hd_branch", c.hd_branch);
  }

  constexpr bool operator==(const SamConfig&) const = default;
};

// `sam_b_downsample` at 1024 px (DeepSeek-VL 7B): 64x64 tokens of width 768, 12 blocks of 12 heads
// x 64, MLP 3072, 14x14 windows except blocks 2, 5, 8, 11 (global; block 2 feeds neck_hd), neck 256,
// downsamples 256 -> 512 -> 1024: 576 features of width 1024.
inline constexpr SamConfig kSamBDownsample{};

// DeepSeek-OCR's SAM-B (`sam_vit_b` of its vision_config): the same blocks at 1024 px, neck 256,
// then net_2 (512) and net_3 (1024) at stride 2 each: 16x16 features of width 1024 at 1024 px.
inline constexpr SamConfig kSamBOcr = [] {
  SamConfig c;
  c.neck_resize = 0;
  c.hd_branch = false;
  return c;
}();

using config::check_matches_preset;
using config::differences;
using config::to_string;

// Checks what a forward pass relies on; errors name `where` and the field.
inline void check_config(const SamConfig& c, const std::string& where) {
  DSVL_CHECK(c.patch_size >= 1 && c.image_size >= c.patch_size, where, "patch_size (", c.patch_size,
             ") must be at least 1 and at most image_size (", c.image_size, ")");
  DSVL_CHECK(c.width >= 1 && c.heads >= 1 && c.width % c.heads == 0, where, "width (", c.width,
             ") must be a positive multiple of heads (", c.heads, ")");
  DSVL_CHECK(c.layers >= 1, where, "layers must be at least 1, got ", c.layers);
  DSVL_CHECK(c.mlp_dim() >= 1, where, "mlp_ratio ", c.mlp_ratio, " gives an empty MLP");
  DSVL_CHECK(c.window_size >= 1, where, "window_size must be at least 1, got ", c.window_size);
  DSVL_CHECK(!c.hd_branch || !c.global_attn_indexes.empty(), where,
             "global_attn_indexes is empty: the high-resolution path taps the first global block");
  for (const auto g : c.global_attn_indexes)
    DSVL_CHECK(g >= 0 && g < c.layers, where, "global_attn_indexes holds ", g, ", outside [0, ", c.layers, ")");
  DSVL_CHECK(c.prompt_embed_dim >= 1, where, "prompt_embed_dim must be at least 1");
  DSVL_CHECK(c.downsample_channels[0] >= 1 && c.downsample_channels[1] >= 1, where,
             "downsample_channels must be positive");
  DSVL_CHECK(c.neck_resize >= 2 || (c.neck_resize == 0 && !c.hd_branch), where,
             "neck_resize must be at least 2 (0, no resize, only without the HD path), got ", c.neck_resize);
  DSVL_CHECK(c.layer_norm_eps > 0.0 && c.layer_norm2d_eps > 0.0, where, "LayerNorm eps must be positive");
}

// A name of DeepSeek-VL's SAM_MODEL_CONFIG with its sizes (the config's image_size overrides the
// entry's).
struct NamedSamConfig {
  std::string_view model_name;
  SamConfig config;
};

// The one entry of the official table with downsamples (the others, sam_vit_b/l/h, have none and
// are not DeepSeek-VL towers).
inline std::span<const NamedSamConfig> sam_model_configs() {
  static constexpr NamedSamConfig table[] = {{"sam_b_downsample", kSamBDownsample}};
  return table;
}

// DeepSeek-VL (v1) 7B: the SAM tower of a config.json's `vision_config` object (cls
// "HybridVisionTower"), read as the official create_sam_vit does: sizes from the entry of
// params.high_res_cfg.model_name (looked up in `extra_names` first, then sam_model_configs()),
// then params.high_res_cfg.image_size. select_feature, when present, must be "same". Errors name
// `where` and the field.
template <io::JsonValue J>
SamConfig parse_sam_config_v1(const J& vision_config, const std::string& where,
                              std::span<const NamedSamConfig> extra_names = {}) {
  const auto cls = io::json_get<std::string>(vision_config, "cls", where);
  if (cls != "HybridVisionTower")
    fail(where, "field 'cls' is \"", cls, "\", expected \"HybridVisionTower\" (the only DeepSeek-VL tower with SAM)");
  const std::string base = "params/high_res_cfg/";
  const auto name = io::json_get<std::string>(vision_config, base + "model_name", where);
  const SamConfig* sizes = nullptr;
  for (const auto& e : extra_names)
    if (!sizes && e.model_name == name) sizes = &e.config;
  for (const auto& e : sam_model_configs())
    if (!sizes && e.model_name == name) sizes = &e.config;
  if (!sizes)
    fail(where, "field '", base, "model_name' is \"", name, "\", which is not a known SAM model with downsamples");
  SamConfig c = *sizes;
  c.image_size = io::json_get<std::int64_t>(vision_config, base + "image_size", where);
  config::check_range(c.image_size, config::kPixels, where, base + "image_size");
  const auto feature = io::json_get_or<std::string>(vision_config, base + "select_feature", "same", where);
  if (feature != "same")
    fail(where, "field '", base, "select_feature' is \"", feature, "\", only \"same\" is supported");
  check_config(c, where);
  return c;
}

}  // namespace dsvl::vision
