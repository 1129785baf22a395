#pragma once
// DeepSeekOcrConfig: the sizes of a DeepSeek-OCR model, as its config.json gives them (model_type
// "deepseek_vl_v2", architectures ["DeepseekOCRForCausalLM"]), with the preset of the released
// checkpoint (deepseek-ai/DeepSeek-OCR).
//
//   vision_config     image_size and, under width, the two towers: "sam_vit_b" (vision/sam_config.hpp,
//                     DeepSeek-OCR's SAM-B: no HD path, net_2 and net_3) and "clip-l-14-224"
//                     (vision/clip_config.hpp); model_name "deeplip_b_l"
//   projector_config  the linear MlpProjector (vision/aligner.hpp), CLIP width + SAM width -> LM width
//   language_config   a DeepseekV2Config (language/deepseek_v2_config.hpp): DeepSeek-VL2-Tiny's
//                     decoder, max_position_embeddings 8192
// The official code (deepencoder/, deepseek_ocr.py) builds SAM-B, CLIP-L and a 2048 -> 1280
// projector whatever the config says; dsvl reads the sizes from these keys, which the released
// config.json holds with the same values, so that smaller models of the same architecture load too.
// tile_tag must be "2D"; candidate_resolutions and global_view_pos are not read by the official code.

#include <cstdint>
#include <filesystem>
#include <string>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/io/config_json.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/language/deepseek_v2_config.hpp"
#include "dsvl/vision/aligner.hpp"
#include "dsvl/vision/clip_config.hpp"
#include "dsvl/vision/sam_config.hpp"

namespace dsvl::models {

// vision_config.width: the two towers under the official entry names.
struct DeepSeekOcrTowers {
  vision::SamConfig sam = vision::kSamBOcr;
  vision::ClipConfig clip = vision::kClipLarge14_224;

  static constexpr const char* kName = "DeepSeekOcrTowers";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.child("sam_vit_b", c.sam);
    v.child("clip-l-14-224", c.clip);
  }
  constexpr bool operator==(const DeepSeekOcrTowers&) const = default;
};

struct DeepSeekOcrVisionConfig {
  std::int64_t image_size = 1024;
  DeepSeekOcrTowers width{};

  static constexpr const char* kName = "DeepSeekOcrVisionConfig";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.field("image_size", c.image_size, std::int64_t{1024}, config::kPixels);
    v.child("width", c.width);
  }
  constexpr bool operator==(const DeepSeekOcrVisionConfig&) const = default;
};

struct DeepSeekOcrConfig {
  DeepSeekOcrVisionConfig vision{};
  vision::AlignerConfig projector = vision::kDeepSeekOcrProjector;
  language::DeepseekV2Config language{};

  constexpr const vision::SamConfig& sam() const noexcept { return vision.width.sam; }
  constexpr const vision::ClipConfig& clip() const noexcept { return vision.width.clip; }
  // Image tokens per side of a view of `side` pixels: SAM's grid after its two stride-2
  // convolutions, ceil((side // 16) / 4) as the processor counts them.
  constexpr std::int64_t tokens_per_side(std::int64_t side) const noexcept { return sam().out_grid_at(side); }

  static constexpr const char* kName = "DeepSeekOcrConfig";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.child("vision_config", c.vision);
    v.child("projector_config", c.projector);
    v.child("language_config", c.language);
  }
  constexpr bool operator==(const DeepSeekOcrConfig&) const = default;
};

using config::check_matches_preset;
using config::differences;
using config::to_string;

// The sizes of a model whose config is read at run time (DeepSeekOcr's default template argument).
inline constexpr DeepSeekOcrConfig kDynamicDeepSeekOcr{};

// deepseek-ai/DeepSeek-OCR: SAM-B and CLIP-L/14 (2048 features) -> 1280, DeepSeek-VL2-Tiny's
// DeepSeekMoE 3B with 8192 positions.
inline constexpr DeepSeekOcrConfig kDeepSeekOcr = [] {
  DeepSeekOcrConfig c;
  c.language = language::kDeepSeekVL2TinyLanguage;
  c.language.max_position_embeddings = 8192;
  return c;
}();

// Checks that the parts fit together; errors name `where` and the sizes.
inline void check_config(const DeepSeekOcrConfig& c, const std::string& where) {
  vision::check_config(c.sam(), where + ": vision_config/width/sam_vit_b");
  vision::check_config(c.clip(), where + ": vision_config/width/clip-l-14-224");
  vision::check_config(c.projector, where + ": projector_config");
  language::check_config(c.language, where + ": language_config");
  if (c.sam().hd_branch || c.sam().neck_resize != 0)
    fail(where, "DeepSeek-OCR's SAM has no HD path and no neck resize");
  if (c.clip().width != c.sam().out_dim())
    fail(where, "the CLIP tower's width is ", c.clip().width, " but SAM's output (its patch embeddings) has ",
         c.sam().out_dim(), " channels (downsample_channels[1])");
  if (!c.projector.linear())
    fail(where, "projector_config projector_type is \"", vision::AlignerConfig::kTypeNames[static_cast<int>(c.projector.projector_type)],
         "\", expected \"linear\"");
  if (c.projector.input_dim != c.clip().width + c.sam().out_dim())
    fail(where, "projector_config input_dim is ", c.projector.input_dim, " but the CLIP and SAM features are ",
         c.clip().width, " + ", c.sam().out_dim(), " wide");
  if (c.projector.n_embed != c.language.hidden_size)
    fail(where, "projector_config n_embed is ", c.projector.n_embed, " but language_config hidden_size is ",
         c.language.hidden_size);
}

// Reads a parsed config.json; errors name `where` and the field.
inline DeepSeekOcrConfig parse_deepseek_ocr_config(const nlohmann::json& j, const std::string& where) {
  const auto model_type = io::json_get<std::string>(j, "model_type", where);
  if (model_type != "deepseek_vl_v2")
    fail(where, "field 'model_type' is \"", model_type, "\", expected \"deepseek_vl_v2\" (DeepSeek-OCR)");
  for (const char* part : {"vision_config", "projector_config", "language_config"})
    if (io::json_find(j, part) == nullptr) fail(where, "missing field '", part, "'");
  const auto tag = io::json_get_or<std::string>(j, "tile_tag", "2D", where);
  if (tag != "2D") fail(where, "field 'tile_tag' is \"", tag, "\", expected \"2D\"");
  DeepSeekOcrConfig c;
  io::json_get_fields(j, "vision_config", c.vision, where);
  io::json_get_fields(j, "projector_config", c.projector, where);
  c.language = language::parse_deepseek_v2_config(j, where, "language_config/");
  check_config(c, where);
  return c;
}

// Reads `config.json` of a model directory (or the given file).
inline DeepSeekOcrConfig read_deepseek_ocr_config(const std::filesystem::path& dir_or_file) {
  namespace fs = std::filesystem;
  if (!fs::exists(dir_or_file)) fail(dir_or_file.string(), "no such model directory or config.json");
  const fs::path file = fs::is_directory(dir_or_file) ? dir_or_file / "config.json" : dir_or_file;
  return parse_deepseek_ocr_config(io::read_json(file), file.string());
}

// The config.json of `c` in the official layout (parse_deepseek_ocr_config reads it back as `c`).
inline nlohmann::json to_config_json(const DeepSeekOcrConfig& c) {
  check_config(c, "models::to_config_json");
  nlohmann::json j;
  io::json_set_fields(j, c);
  j["model_type"] = "deepseek_vl_v2";
  j["architectures"] = {"DeepseekOCRForCausalLM"};
  j["tile_tag"] = "2D";
  j["global_view_pos"] = "head";
  j["candidate_resolutions"] = {{c.vision.image_size, c.vision.image_size}};
  j["vision_config"]["model_name"] = "deeplip_b_l";
  j["vision_config"]["model_type"] = "vision";
  j["projector_config"]["model_type"] = "mlp_projector";
  j["language_config"]["model_type"] = "deepseek_v2";
  j["language_config"]["architectures"] = {"DeepseekOCRForCausalLM"};
  return j;
}

}  // namespace dsvl::models
