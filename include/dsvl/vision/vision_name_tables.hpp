#pragma once
// VisionNameTables: entries for DeepSeek-VL's vision name tables beyond the official ones.
//
// A DeepSeek-VL config.json names its towers (params.model_name) and the official code takes their
// sizes from tables in code: SigLIP_MODEL_CONFIG (deepseek_vl/models/siglip_vit.py) and
// SAM_MODEL_CONFIG (deepseek_vl/models/sam.py). A model with a tower of its own (the reference
// fixtures, a small trained model) ships the entries it adds in a file of the same layout, read
// here:
//
//   {"SigLIP_MODEL_CONFIG": {"<name>": {"image_size", "patch_size", "width", "layers", "heads",
//                                       "mlp_ratio", ...}, ...},
//    "SAM_MODEL_CONFIG":    {"<name>": {"width", "layers", "heads", "global_attn_indexes",
//                                       "downsample_channels", ["prompt_embed_dim"], ...}, ...}}
//
// Either table may be absent; other keys are ignored. SAM entries without two downsample channels
// (sam_vit_b/l/h) are not DeepSeek-VL towers and are skipped. Model directories carry the file as
// `vision_models.json`, next to config.json.

#include <cstdint>
#include <deque>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/io/config_json.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/vision/sam_config.hpp"
#include "dsvl/vision/vit_config.hpp"

namespace dsvl::vision {

class VisionNameTables {
 public:
  VisionNameTables() = default;
  // The entries hold views of names_, whose elements a move keeps in place; a copy would not.
  VisionNameTables(const VisionNameTables&) = delete;
  VisionNameTables& operator=(const VisionNameTables&) = delete;
  VisionNameTables(VisionNameTables&&) noexcept = default;
  VisionNameTables& operator=(VisionNameTables&&) noexcept = default;

  // Errors name `where` and the field (e.g. "SAM_MODEL_CONFIG/sam_tiny/heads").
  static VisionNameTables parse(const nlohmann::json& j, const std::string& where) {
    VisionNameTables t;
    if (const auto* siglip = io::json_find(j, "SigLIP_MODEL_CONFIG")) {
      for (const auto& [name, e] : siglip->items()) {
        const std::string at = where + ": SigLIP_MODEL_CONFIG/" + name;
        VitConfig c;
        io::json_get_fields(e, "", c, at);
        check_config(c, at);
        t.siglip_.push_back({t.names_.emplace_back(name), c});
      }
    }
    if (const auto* sam = io::json_find(j, "SAM_MODEL_CONFIG")) {
      for (const auto& [name, e] : sam->items()) {
        const std::string at = where + ": SAM_MODEL_CONFIG/" + name;
        const auto channels = io::json_get<std::vector<std::int64_t>>(e, "downsample_channels", at);
        if (channels.size() != 2) continue;
        SamConfig c;
        io::json_get_fields(e, "", c, at);
        check_config(c, at);
        t.sam_.push_back({t.names_.emplace_back(name), c});
      }
    }
    return t;
  }

  static VisionNameTables read(const std::filesystem::path& file) { return parse(io::read_json(file), file.string()); }

  std::span<const NamedVitConfig> siglip() const noexcept { return siglip_; }
  std::span<const NamedSamConfig> sam() const noexcept { return sam_; }

 private:
  std::deque<std::string> names_;
  std::vector<NamedVitConfig> siglip_;
  std::vector<NamedSamConfig> sam_;
};

}  // namespace dsvl::vision
