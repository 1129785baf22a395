#pragma once
// VitConfig: the sizes of a SigLIP vision transformer (timm's VisionTransformer as DeepSeek-VL and
// DeepSeek-VL2 build it), with the presets of the released checkpoints and readers for the
// `vision_config` of their config.json files.
//
// Field names are the official config keys (DeepSeek-VL's SigLIP_MODEL_CONFIG entries, DeepSeek-VL2's
// vision_config): image_size, patch_size, width, layers, heads, mlp_ratio, select_layer. The two
// values that the official code fixes in code rather than in a config are fields too:
// layer_norm_eps (1e-6 for every LayerNorm), final_norm (the last `norm` is applied) and gelu_tanh:
// DeepSeek-VL's SigLIP uses the exact (erf) GELU in its MLP, DeepSeek-VL2's the tanh
// approximation (siglip_vit.py builds its blocks with nn.GELU(approximate='tanh')).
//
// Derived sizes (timm's arithmetic):
//   grid()       = image_size / patch_size      patches per side; with a strict patch embedding the
//                                               last image_size % patch_size pixels of each row and
//                                               column are never read (6 for 384 px at patch 14)
//   num_patches()= grid()^2                     N, row-major over the grid
//   head_dim()   = width / heads                Dh
//   mlp_dim()    = int(width * mlp_ratio)       MLP hidden size (4304 for SO400M: 1152 * 3.7362)
//   depth()      = blocks that run: select_layer <= 0 gives min(layers, layers + select_layer + 1),
//                  select_layer > 0 gives min(layers, select_layer) (DeepSeek-VL's
//                  create_siglip_vit; -1, the released value, runs every block)

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/io/config_json.hpp"
#include "dsvl/io/json_get.hpp"

namespace dsvl::vision {

struct VitConfig {
  std::int64_t image_size = 384;
  std::int64_t patch_size = 16;
  std::int64_t width = 1024;
  std::int64_t layers = 24;
  std::int64_t heads = 16;
  double mlp_ratio = 4.0;
  std::int64_t select_layer = -1;
  double layer_norm_eps = 1e-6;
  bool final_norm = true;
  bool gelu_tanh = false;

  constexpr std::int64_t grid() const noexcept { return patch_size > 0 ? image_size / patch_size : 0; }
  constexpr std::int64_t num_patches() const noexcept { return grid() * grid(); }
  constexpr std::int64_t head_dim() const noexcept { return heads > 0 ? width / heads : 0; }
  constexpr std::int64_t mlp_dim() const noexcept {
    return static_cast<std::int64_t>(static_cast<double>(width) * mlp_ratio);
  }
  constexpr std::int64_t depth() const noexcept {
    const std::int64_t d = select_layer <= 0 ? layers + select_layer + 1 : select_layer;
    return d < layers ? (d < 0 ? 0 : d) : layers;
  }

  // Every field once (core/config.hpp). The keys are VisionEncoderConfig's (DeepSeek-VL2's
  // vision_config, DeepSeek-VL's SigLIP_MODEL_CONFIG entries), with its defaults for absent keys;
  // select_layer is a key of DeepSeek-VL's tower params (parse_siglip_config_v1 reads it), the rest
  // the official code fixes.
  static constexpr const char* kName = "VitConfig";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.field("image_size", c.image_size, std::int64_t{384}, config::kPixels);
    v.field("patch_size", c.patch_size, std::int64_t{16}, config::kPixels);
    v.field("width", c.width, std::int64_t{1024}, config::kWidths);
    v.field("layers", c.layers, std::int64_t{24}, config::kLayers);
    v.field("heads", c.heads, std::int64_t{16}, config::kHeads);
    v.field("mlp_ratio", c.mlp_ratio, 4.0, config::kMlpRatios);
    v.fixed("select_layer", c.select_layer);
    v.fixed("layer_norm_eps", c.layer_norm_eps);
    v.fixed("final_norm", c.final_norm);
    v.fixed("gelu_tanh", c.gelu_tanh);
  }

  constexpr bool operator==(const VitConfig&) const = default;
};

// SigLIP-L/16 at 384 px (DeepSeek-VL 1.3B, and the low-resolution branch of 7B): 24x24 = 576 patches
// of width 1024, 24 blocks of 16 heads x 64, MLP 4096.
inline constexpr VitConfig kSiglipLarge16_384{384, 16, 1024, 24, 16, 4.0, -1, 1e-6, true};
// SigLIP-SO400M/14 at 384 px (DeepSeek-VL2, every size): 27x27 = 729 patches (the last 6 pixels of
// each row and column unread) of width 1152, 27 blocks of 16 heads x 72, MLP 4304, tanh GELU.
inline constexpr VitConfig kSiglipSo400m14_384{384, 14, 1152, 27, 16, 3.7362, -1, 1e-6, true, true};

// The sizes of a block whose config is read at run time (the default template argument of
// blocks that also take a compile-time preset).
inline constexpr VitConfig kDynamicVit{0, 0, 0, 0, 0, 0.0, 0, 0.0, false};

using config::check_matches_preset;
using config::differences;
using config::to_string;

// Checks what a forward pass relies on; errors name `where` and the field.
inline void check_config(const VitConfig& c, const std::string& where) {
  DSVL_CHECK(c.patch_size >= 1 && c.image_size >= c.patch_size, where, "patch_size (", c.patch_size,
             ") must be at least 1 and at most image_size (", c.image_size, ")");
  DSVL_CHECK(c.width >= 1 && c.heads >= 1 && c.width % c.heads == 0, where, "width (", c.width,
             ") must be a positive multiple of heads (", c.heads, ")");
  DSVL_CHECK(c.layers >= 0, where, "layers must be non-negative, got ", c.layers);
  DSVL_CHECK(c.mlp_dim() >= 1, where, "mlp_ratio ", c.mlp_ratio, " gives an empty MLP");
  DSVL_CHECK(c.layer_norm_eps > 0.0, where, "layer_norm_eps must be positive");
}

// A name of DeepSeek-VL's SigLIP_MODEL_CONFIG with its sizes (image_size as that table gives it;
// the config's own image_size overrides it).
struct NamedVitConfig {
  std::string_view model_name;
  VitConfig config;
};

// The SigLIP entries of the official table (deepseek_vl/models/siglip_vit.py). Note that its
// siglip_so400m_patch14_384 entry says image_size 336; the config's image_size is what counts.
inline constexpr NamedVitConfig kSiglipModelConfigs[] = {
    {"siglip_large_patch16_384", kSiglipLarge16_384},
    {"siglip_so400m_patch14_384", {336, 14, 1152, 27, 16, 3.7362, -1, 1e-6, true}},
    {"siglip_so400m_patch14_224", {224, 14, 1152, 27, 16, 3.7362, -1, 1e-6, true}},
};

namespace detail {
inline const VitConfig* find_vit_config(std::string_view name, std::span<const NamedVitConfig> table) {
  for (const auto& e : table)
    if (e.model_name == name) return &e.config;
  return nullptr;
}
}  // namespace detail

// DeepSeek-VL (v1): the SigLIP tower of a config.json's `vision_config` object, read as the
// official create_siglip_vit does: sizes from the table entry of params.model_name (looked up in
// `extra_names` first, then kSiglipModelConfigs), then params.image_size and params.select_layer.
// For cls "CLIPVisionTower" the keys are under params; for "HybridVisionTower" (7B) under
// params.low_res_cfg. select_feature, when present, must be "same" (the tower's output as is).
// Errors name `where` and the field: unknown cls or model_name, missing or mistyped fields.
template <io::JsonValue J>
VitConfig parse_siglip_config_v1(const J& vision_config, const std::string& where,
                                 std::span<const NamedVitConfig> extra_names = {}) {
  const auto cls = io::json_get<std::string>(vision_config, "cls", where);
  std::string base;
  if (cls == "CLIPVisionTower") base = "params/";
  else if (cls == "HybridVisionTower") base = "params/low_res_cfg/";
  else fail(where, "field 'cls' is \"", cls, "\", expected \"CLIPVisionTower\" or \"HybridVisionTower\"");
  const auto name = io::json_get<std::string>(vision_config, base + "model_name", where);
  const VitConfig* sizes = detail::find_vit_config(name, extra_names);
  if (!sizes) sizes = detail::find_vit_config(name, kSiglipModelConfigs);
  if (!sizes) fail(where, "field '", base, "model_name' is \"", name, "\", which is not a known SigLIP model");
  VitConfig c = *sizes;
  c.image_size = io::json_get<std::int64_t>(vision_config, base + "image_size", where);
  c.select_layer = io::json_get_or<std::int64_t>(vision_config, base + "select_layer", c.select_layer, where);
  config::check_range(c.image_size, config::kPixels, where, base + "image_size");
  const auto feature = io::json_get_or<std::string>(vision_config, base + "select_feature", "same", where);
  if (feature != "same")
    fail(where, "field '", base, "select_feature' is \"", feature, "\", only \"same\" is supported");
  check_config(c, where);
  return c;
}

// DeepSeek-VL2: the `vision_config` object of config.json (VisionEncoderConfig). Absent keys take
// the class defaults (the released configs omit heads and image_size: 16 and 384). VL2 runs every
// block (no select_layer), with the tanh GELU.
template <io::JsonValue J>
VitConfig parse_siglip_config_vl2(const J& vision_config, const std::string& where) {
  VitConfig c = kSiglipLarge16_384;  // VisionEncoderConfig's defaults are SigLIP-L/16 at 384
  c.gelu_tanh = true;
  io::json_get_fields(vision_config, "", c, where);
  check_config(c, where);
  return c;
}

}  // namespace dsvl::vision
