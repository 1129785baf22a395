#pragma once
// DeepSeekVLConfig: the sizes of a DeepSeek-VL (v1) model, as its config.json gives them
// (model_type "multi_modality", deepseek_vl/models/modeling_vlm.py), with the presets of the
// released checkpoints. Janus-Pro (janus/models/modeling_vlm.py) is the same understanding model
// with the image-generation parts beside it; its presets are here too.
//
//   vision_config   cls "CLIPVisionTower" (1.3B): a SigLIP ViT, keys under params
//                   cls "HybridVisionTower" (7B): SAM ViTDet (params.high_res_cfg) and SigLIP
//                   (params.low_res_cfg), concat_type "tuple"
//                   Tower sizes come from the official name tables by model_name (see
//                   vision/vision_name_tables.hpp for models that add entries); pixel_mean and
//                   pixel_std, when given, are the normalisation the tower applies to its input.
//   aligner_config  cls "MlpProjector" (vision/aligner.hpp)
//   language_config a LlamaConfig (language/llama_config.hpp)
//   gen_vision_config, gen_aligner_config, gen_head_config
//                   Janus's image generation (a VQ tokenizer, its aligner, the image-token head):
//                   present or not (image_generation); understanding reads nothing of them
//
// Every image becomes siglip.num_patches() embeddings (576 for both released sizes); the hybrid's
// SAM branch must give as many.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/io/config_json.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/language/llama_config.hpp"
#include "dsvl/vision/aligner.hpp"
#include "dsvl/vision/pixel_norm.hpp"
#include "dsvl/vision/sam_config.hpp"
#include "dsvl/vision/vision_name_tables.hpp"
#include "dsvl/vision/vit_config.hpp"

namespace dsvl::models {

struct DeepSeekVLConfig {
  enum class Tower : std::uint8_t { siglip, hybrid };  // CLIPVisionTower, HybridVisionTower

  Tower tower = Tower::siglip;
  vision::VitConfig siglip = vision::kDynamicVit;  // the SigLIP ViT (the hybrid's low_res_cfg)
  vision::PixelNorm siglip_norm{};
  vision::SamConfig sam{};  // the hybrid's high_res_cfg; unused otherwise
  vision::PixelNorm sam_norm{};
  vision::AlignerConfig aligner{};
  language::LlamaConfig language{};
  bool image_generation = false;  // Janus: the checkpoint also holds gen_vision_model, gen_aligner, ...

  static constexpr const char* kTowerNames[] = {"CLIPVisionTower", "HybridVisionTower"};

  constexpr bool hybrid() const noexcept { return tower == Tower::hybrid; }
  // The side of the square images the processor gives the model (the hybrid resizes them for SigLIP).
  constexpr std::int64_t image_size() const noexcept { return hybrid() ? sam.image_size : siglip.image_size; }
  constexpr std::int64_t num_image_tokens() const noexcept { return siglip.num_patches(); }

  // Every field once (core/config.hpp), for printing and differences. config.json places the
  // towers by cls and names their sizes (parse_deepseek_vl_config, to_config_json), so the keys of
  // the towers are the members' names: "cls", "siglip", "sam" and their pixel norms.
  static constexpr const char* kName = "DeepSeekVLConfig";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.choice("cls", c.tower, Tower::siglip, kTowerNames);
    v.child("siglip", c.siglip);
    v.child("siglip_norm", c.siglip_norm);
    v.child("sam", c.sam);
    v.child("sam_norm", c.sam_norm);
    v.child("aligner_config", c.aligner);
    v.child("language_config", c.language);
    v.fixed("image_generation", c.image_generation);
  }

  constexpr bool operator==(const DeepSeekVLConfig&) const = default;
};

using config::check_matches_preset;
using config::differences;
using config::to_string;

// The sizes of a model whose config is read at run time (DeepSeekVL's default template argument).
inline constexpr DeepSeekVLConfig kDynamicDeepSeekVL{};

// deepseek-ai/deepseek-vl-1.3b-{base,chat}: SigLIP-L/16 at 384 normalised with 0.5 / 0.5, the
// mlp_gelu aligner 1024 -> 2048, DeepSeek-LLM 1.3B.
inline constexpr DeepSeekVLConfig kDeepSeekVL1_3B{DeepSeekVLConfig::Tower::siglip,
                                                   vision::kSiglipLarge16_384,
                                                   vision::kSiglipPixelNorm,
                                                   {},
                                                   {},
                                                   vision::kDeepSeekVL1_3BAligner,
                                                   language::kDeepSeekVL1_3BLanguage};
// deepseek-ai/deepseek-vl-7b-{base,chat}: SAM-B at 1024 (CLIP normalisation) and SigLIP-L/16 at
// 384 (0.5 / 0.5), the hybrid aligner 2 x 1024 -> 4096, DeepSeek-LLM 7B.
inline constexpr DeepSeekVLConfig kDeepSeekVL7B{DeepSeekVLConfig::Tower::hybrid,
                                                 vision::kSiglipLarge16_384,
                                                 vision::kSiglipPixelNorm,
                                                 vision::kSamBDownsample,
                                                 vision::kClipPixelNorm,
                                                 vision::kDeepSeekVL7BAligner,
                                                 language::kDeepSeekVL7BLanguage};
// deepseek-ai/Janus-Pro-1B: SigLIP-L/16 at 384 (the processor normalises), the mlp_gelu aligner
// 1024 -> 2048, DeepSeek-LLM 1.3B's decoder; VQ-16 image generation beside it.
inline constexpr DeepSeekVLConfig kJanusPro1B{DeepSeekVLConfig::Tower::siglip,
                                               vision::kSiglipLarge16_384,
                                               {},
                                               {},
                                               {},
                                               vision::kDeepSeekVL1_3BAligner,
                                               language::kDeepSeekVL1_3BLanguage,
                                               true};
// deepseek-ai/Janus-Pro-7B: the same with the mlp_gelu aligner 1024 -> 4096 and DeepSeek-LLM 7B's
// decoder.
inline constexpr DeepSeekVLConfig kJanusPro7B{DeepSeekVLConfig::Tower::siglip,
                                               vision::kSiglipLarge16_384,
                                               {},
                                               {},
                                               {},
                                               {vision::AlignerConfig::Type::mlp_gelu, 2, 1024, 4096},
                                               language::kDeepSeekVL7BLanguage,
                                               true};

namespace detail {
// The pixel_mean and pixel_std of a tower's params at `base` ("params/", "params/low_res_cfg/"):
// both or neither (the identity).
inline vision::PixelNorm parse_pixel_norm(const nlohmann::json& j, const std::string& base, const std::string& where) {
  const bool has_mean = io::json_find(j, base + "pixel_mean") != nullptr;
  const bool has_std = io::json_find(j, base + "pixel_std") != nullptr;
  if (!has_mean && !has_std) return {};
  if (has_mean != has_std)
    fail(where, "field '", base, has_mean ? "pixel_std" : "pixel_mean", "' is missing; the tower normalises only with both");
  vision::PixelNorm n;
  io::json_get_fields(j, std::string_view(base).substr(0, base.size() - 1), n, where);
  for (std::size_t i = 0; i < 3; ++i)
    if (n.std[i] == 0.0) fail(where, "field '", base, "pixel_std' holds 0");
  return n;
}
}  // namespace detail

// Checks that the parts fit together; errors name `where` and the sizes.
inline void check_config(const DeepSeekVLConfig& c, const std::string& where) {
  vision::check_config(c.siglip, where + ": vision_config (SigLIP)");
  vision::check_config(c.aligner, where + ": aligner_config");
  language::check_config(c.language, where + ": language_config");
  const auto& a = c.aligner;
  if (a.hybrid() != c.hybrid())
    fail(where, "aligner_config projector_type is ", a.hybrid() ? "the hybrid one" : "mlp_gelu", " but vision_config cls is ",
         c.hybrid() ? "HybridVisionTower" : "CLIPVisionTower", ": the hybrid tower needs low_high_hybrid_split_mlp_gelu");
  if (a.input_dim != c.siglip.width)
    fail(where, "aligner_config params/input_dim is ", a.input_dim, " but the SigLIP tower's width is ", c.siglip.width);
  if (a.n_embed != c.language.hidden_size)
    fail(where, "aligner_config params/n_embed is ", a.n_embed, " but language_config hidden_size is ",
         c.language.hidden_size);
  if (c.hybrid()) {
    vision::check_config(c.sam, where + ": vision_config (SAM)");
    if (c.sam.out_dim() != a.input_dim)
      fail(where, "the SAM tower gives features of width ", c.sam.out_dim(), " but aligner_config params/input_dim is ",
           a.input_dim);
    if (c.sam.num_tokens() != c.siglip.num_patches())
      fail(where, "the SAM tower gives ", c.sam.num_tokens(), " features per image, the SigLIP tower ",
           c.siglip.num_patches(), ": the hybrid aligner pairs them one to one");
  }
}

// Reads a parsed config.json. `names` adds entries to the official vision name tables.
inline DeepSeekVLConfig parse_deepseek_vl_config(const nlohmann::json& j, const std::string& where,
                                                 const vision::VisionNameTables& names = {}) {
  const auto model_type = io::json_get<std::string>(j, "model_type", where);
  if (model_type != "multi_modality")
    fail(where, "field 'model_type' is \"", model_type, "\", expected \"multi_modality\" (DeepSeek-VL v1)");
  DeepSeekVLConfig c;
  const auto* vision_config = io::json_find(j, "vision_config");
  if (!vision_config) fail(where, "missing field 'vision_config'");
  const std::string vwhere = where + ": vision_config";
  const auto cls = io::json_get<std::string>(*vision_config, "cls", vwhere);
  c.siglip = vision::parse_siglip_config_v1(*vision_config, vwhere, names.siglip());
  if (cls == "HybridVisionTower") {
    c.tower = DeepSeekVLConfig::Tower::hybrid;
    const auto concat = io::json_get_or<std::string>(*vision_config, "params/concat_type", "tuple", vwhere);
    if (concat != "tuple")
      fail(vwhere, "field 'params/concat_type' is \"", concat, "\", only \"tuple\" (the hybrid aligner's input) is supported");
    c.sam = vision::parse_sam_config_v1(*vision_config, vwhere, names.sam());
    c.sam_norm = detail::parse_pixel_norm(*vision_config, "params/high_res_cfg/", vwhere);
    c.siglip_norm = detail::parse_pixel_norm(*vision_config, "params/low_res_cfg/", vwhere);
  } else {
    c.siglip_norm = detail::parse_pixel_norm(*vision_config, "params/", vwhere);
  }
  const auto* aligner_config = io::json_find(j, "aligner_config");
  if (!aligner_config) fail(where, "missing field 'aligner_config'");
  c.aligner = vision::parse_aligner_config(*aligner_config, where + ": aligner_config");
  if (!io::json_find(j, "language_config")) fail(where, "missing field 'language_config'");
  c.language = language::parse_llama_config(j, where, "language_config/");
  c.image_generation = io::json_find(j, "gen_vision_config") != nullptr;
  check_config(c, where);
  return c;
}

// Reads `config.json` of a model directory (or the given file), with the entries of
// `vision_models.json` next to it when that file exists.
inline DeepSeekVLConfig read_deepseek_vl_config(const std::filesystem::path& dir_or_file) {
  namespace fs = std::filesystem;
  if (!fs::exists(dir_or_file)) fail(dir_or_file.string(), "no such model directory or config.json");
  const fs::path file = fs::is_directory(dir_or_file) ? dir_or_file / "config.json" : dir_or_file;
  const fs::path names_file = file.parent_path() / "vision_models.json";
  const auto names = fs::exists(names_file) ? vision::VisionNameTables::read(names_file) : vision::VisionNameTables{};
  return parse_deepseek_vl_config(io::read_json(file), file.string(), names);
}

namespace detail {
inline std::string_view siglip_model_name(const vision::VitConfig& c, const vision::VisionNameTables& names) {
  const auto same = [&](const vision::VitConfig& e) {
    return e.patch_size == c.patch_size && e.width == c.width && e.layers == c.layers && e.heads == c.heads &&
           e.mlp_ratio == c.mlp_ratio;
  };
  for (const auto& e : names.siglip())
    if (same(e.config)) return e.model_name;
  for (const auto& e : vision::kSiglipModelConfigs)
    if (same(e.config)) return e.model_name;
  fail("models::to_config_json", "no SigLIP name-table entry has the sizes ", vision::to_string(c));
}

inline std::string_view sam_model_name(const vision::SamConfig& c, const vision::VisionNameTables& names) {
  const auto same = [&](vision::SamConfig e) {
    e.image_size = c.image_size;
    return e == c;
  };
  for (const auto& e : names.sam())
    if (same(e.config)) return e.model_name;
  for (const auto& e : vision::sam_model_configs())
    if (same(e.config)) return e.model_name;
  fail("models::to_config_json", "no SAM name-table entry has the sizes ", vision::to_string(c));
}

inline void put_tower(nlohmann::json& cfg, std::string_view model_name, std::int64_t image_size,
                      std::int64_t select_layer, const vision::PixelNorm& norm) {
  cfg["model_name"] = model_name;
  cfg["image_size"] = image_size;
  cfg["select_feature"] = "same";
  cfg["select_layer"] = select_layer;
  if (!norm.is_identity()) io::json_set_fields(cfg, norm);
}
}  // namespace detail

// The config.json of `c` in the official layout (parse_deepseek_vl_config reads it back as `c`).
// The towers are named by the entry of the official tables, or of `names`, with their sizes;
// an error says when there is none. With image_generation, the released Janus-Pro generation
// parts at the decoder's width (VQ-16 with 16384 codes of 8), which dsvl does not read.
inline nlohmann::json to_config_json(const DeepSeekVLConfig& c, const vision::VisionNameTables& names = {}) {
  check_config(c, "models::to_config_json");
  nlohmann::json j;
  j["model_type"] = "multi_modality";
  j["architectures"] = {"MultiModalityCausalLM"};
  auto& v = j["vision_config"];
  v["model_type"] = "vision";
  const auto siglip_name = detail::siglip_model_name(c.siglip, names);
  if (c.hybrid()) {
    v["cls"] = "HybridVisionTower";
    v["params"]["concat_type"] = "tuple";
    auto& high = v["params"]["high_res_cfg"];
    detail::put_tower(high, detail::sam_model_name(c.sam, names), c.sam.image_size, -1, c.sam_norm);
    high["output_dim"] = c.sam.out_dim();
    auto& low = v["params"]["low_res_cfg"];
    detail::put_tower(low, siglip_name, c.siglip.image_size, c.siglip.select_layer, c.siglip_norm);
    low["output_dim"] = c.siglip.width;
  } else {
    v["cls"] = "CLIPVisionTower";
    detail::put_tower(v["params"], siglip_name, c.siglip.image_size, c.siglip.select_layer, c.siglip_norm);
  }
  auto& a = j["aligner_config"];
  a["cls"] = "MlpProjector";
  a["model_type"] = "aligner";
  io::json_set_fields(a["params"], c.aligner);
  auto& l = j["language_config"];
  l["model_type"] = "llama";
  io::json_set_fields(l, c.language);
  if (c.image_generation) {
    const std::int64_t D = c.language.hidden_size;
    j["gen_vision_config"] = {{"cls", "VQ-16"}, {"model_type", "gen_vision"},
                              {"params", {{"image_token_size", 16384}, {"n_embed", 8}}}};
    j["gen_aligner_config"] = {
        {"cls", "MlpProjector"},
        {"model_type", "gen_aligner"},
        {"params", {{"depth", 2}, {"input_dim", 8}, {"n_embed", D}, {"projector_type", "mlp_gelu"}}}};
    j["gen_head_config"] = {{"cls", "vision_head"},
                            {"model_type", "gen_head"},
                            {"params", {{"image_token_embed", D}, {"image_token_size", 16384}, {"n_embed", D}}}};
  }
  return j;
}

}  // namespace dsvl::models
