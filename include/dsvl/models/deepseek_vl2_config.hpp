#pragma once
// DeepSeekVL2Config: the sizes of a DeepSeek-VL2 model, as its config.json gives them (model_type
// "deepseek_vl_v2", DeepseekVLV2Config of deepseek_vl2/models/modeling_deepseek_vl_v2.py), with
// the presets of the released checkpoints.
//
//   vision_config     the SigLIP ViT (VisionEncoderConfig; vision/vit_config.hpp)
//   projector_config  the downsample_mlp_gelu projector (vision/downsample_projector.hpp)
//   language_config   a DeepseekV2Config (language/deepseek_v2_config.hpp)
//   tile_tag "2D", global_view_pos, candidate_resolutions (vision/tile_layout.hpp,
//   vision/dynamic_tiling.hpp; the image processor reads its own copy of the candidates from
//   processor_config.json)
//
// A tile is vision.image_size pixels square (384), the first candidate resolution's side; the
// projector turns its grid of patches into tokens_per_tile_side()^2 tokens (14 x 14).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/io/config_json.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/language/deepseek_v2_config.hpp"
#include "dsvl/vision/downsample_projector.hpp"
#include "dsvl/vision/dynamic_tiling.hpp"
#include "dsvl/vision/tile_layout.hpp"
#include "dsvl/vision/vit_config.hpp"

namespace dsvl::models {

struct DeepSeekVL2Config {
  vision::VitConfig vision = vision::kDynamicVit;
  vision::DownsampleProjectorConfig projector{};
  language::DeepseekV2Config language{};
  vision::GlobalViewPos global_view_pos = vision::GlobalViewPos::head;

  constexpr std::int64_t tile_size() const noexcept { return vision.image_size; }
  // t: tokens per tile side, ceil(grid / downsample_ratio) (14 for the released models).
  constexpr std::int64_t tokens_per_tile_side() const noexcept {
    const std::int64_t r = projector.downsample_ratio;
    return r > 0 ? (vision.grid() + r - 1) / r : 0;
  }

  // Every field once (core/config.hpp): the parts under their config.json keys, and
  // global_view_pos (the DeepseekVLV2Config default "head").
  static constexpr const char* kName = "DeepSeekVL2Config";
  static constexpr const char* kGlobalViewPosNames[] = {"head", "tail"};
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.child("vision_config", c.vision);
    v.child("projector_config", c.projector);
    v.child("language_config", c.language);
    v.choice("global_view_pos", c.global_view_pos, vision::GlobalViewPos::head, kGlobalViewPosNames);
  }

  constexpr bool operator==(const DeepSeekVL2Config&) const = default;
};

using config::check_matches_preset;
using config::differences;
using config::to_string;

// The sizes of a model whose config is read at run time (DeepSeekVL2's default template argument).
inline constexpr DeepSeekVL2Config kDynamicDeepSeekVL2{};

// deepseek-ai/deepseek-vl2-tiny: SigLIP-SO400M/14 at 384, projector to 1280, DeepSeekMoE 3B (MHA).
inline constexpr DeepSeekVL2Config kDeepSeekVL2Tiny{vision::kSiglipSo400m14_384, vision::kDeepSeekVL2TinyProjector,
                                                    language::kDeepSeekVL2TinyLanguage, vision::GlobalViewPos::head};
// deepseek-ai/deepseek-vl2-small: projector to 2048, DeepSeekMoE 16B (MLA).
inline constexpr DeepSeekVL2Config kDeepSeekVL2Small{vision::kSiglipSo400m14_384,
                                                     vision::kDeepSeekVL2SmallProjector,
                                                     language::kDeepSeekVL2SmallLanguage, vision::GlobalViewPos::head};
// deepseek-ai/deepseek-vl2: projector to 2560, DeepSeekMoE 27B (MLA, sigmoid noaux_tc routing).
inline constexpr DeepSeekVL2Config kDeepSeekVL2Base{vision::kSiglipSo400m14_384, vision::kDeepSeekVL2BaseProjector,
                                                    language::kDeepSeekVL2BaseLanguage, vision::GlobalViewPos::head};

// Checks that the parts fit together; errors name `where` and the sizes.
inline void check_config(const DeepSeekVL2Config& c, const std::string& where) {
  vision::check_config(c.vision, where + ": vision_config");
  vision::check_config(c.projector, where + ": projector_config");
  language::check_config(c.language, where + ": language_config");
  if (c.projector.input_dim != c.vision.width)
    fail(where, "projector_config input_dim is ", c.projector.input_dim, " but vision_config width is ",
         c.vision.width);
  if (c.projector.n_embed != c.language.hidden_size)
    fail(where, "projector_config n_embed is ", c.projector.n_embed, " but language_config hidden_size is ",
         c.language.hidden_size);
}

// Reads a parsed config.json; errors name `where` and the field.
inline DeepSeekVL2Config parse_deepseek_vl2_config(const nlohmann::json& j, const std::string& where) {
  const auto model_type = io::json_get<std::string>(j, "model_type", where);
  if (model_type != "deepseek_vl_v2")
    fail(where, "field 'model_type' is \"", model_type, "\", expected \"deepseek_vl_v2\" (DeepSeek-VL2)");
  DeepSeekVL2Config c;
  for (const char* part : {"vision_config", "projector_config", "language_config"})
    if (io::json_find(j, part) == nullptr) fail(where, "missing field '", part, "'");
  c.vision = vision::parse_siglip_config_vl2(*io::json_find(j, "vision_config"), where + ": vision_config");
  c.projector =
      vision::parse_downsample_projector_config(*io::json_find(j, "projector_config"), where + ": projector_config");
  c.language = language::parse_deepseek_v2_config(j, where, "language_config/");
  c.global_view_pos = vision::parse_global_view_pos(j, where);
  if (io::json_find(j, "candidate_resolutions") != nullptr) {
    const auto candidates = vision::parse_candidate_resolutions(j, where);
    if (candidates.tile_size() != c.tile_size())
      fail(where, "field 'candidate_resolutions' starts with tiles of ", candidates.tile_size(),
           " pixels but vision_config image_size is ", c.tile_size());
  }
  check_config(c, where);
  return c;
}

// Reads `config.json` of a model directory (or the given file).
inline DeepSeekVL2Config read_deepseek_vl2_config(const std::filesystem::path& dir_or_file) {
  namespace fs = std::filesystem;
  if (!fs::exists(dir_or_file)) fail(dir_or_file.string(), "no such model directory or config.json");
  const fs::path file = fs::is_directory(dir_or_file) ? dir_or_file / "config.json" : dir_or_file;
  return parse_deepseek_vl2_config(io::read_json(file), file.string());
}

// The config.json of `c` in the official layout, with `candidates` as candidate_resolutions
// (parse_deepseek_vl2_config reads it back as `c`).
inline nlohmann::json to_config_json(const DeepSeekVL2Config& c, const vision::CandidateResolutions& candidates) {
  check_config(c, "models::to_config_json");
  if (candidates.tile_size() != c.tile_size())
    fail("models::to_config_json", "the candidate resolutions start with tiles of ", candidates.tile_size(),
         " pixels, the model's are ", c.tile_size());
  nlohmann::json j;
  io::json_set_fields(j, c);
  j["model_type"] = "deepseek_vl_v2";
  j["tile_tag"] = "2D";
  auto& list = j["candidate_resolutions"] = nlohmann::json::array();
  for (const auto& r : candidates.list()) list.push_back({r.width, r.height});
  j["vision_config"]["model_type"] = "vision";
  j["projector_config"]["model_type"] = "mlp_projector";
  j["language_config"]["model_type"] = "deepseek_v2";
  return j;
}

}  // namespace dsvl::models
