#pragma once
// DeepSeek-OCR's registry entry (models/registry.hpp): how a model directory is recognised, its
// config, processor and composed model type, its released sizes, and the files that describe it.

#include <array>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dsvl/io/json.hpp"
#include "dsvl/io/output.hpp"
#include "dsvl/models/deepseek_ocr.hpp"
#include "dsvl/models/deepseek_ocr_config.hpp"
#include "dsvl/models/deepseek_ocr_processor.hpp"
#include "dsvl/models/preset.hpp"

namespace dsvl::models {

struct DeepSeekOcrEntry {
  static constexpr std::string_view name = "DeepSeek-OCR";
  using Config = DeepSeekOcrConfig;
  using Processor = DeepSeekOcrProcessor;
  template <KernelPolicy P, KernelPolicy VisionP>
  using Model = DeepSeekOcr<P, kDynamicDeepSeekOcr, VisionP>;

  // config.json's model_type is "deepseek_vl_v2" (shared with DeepSeek-VL2) and either its
  // architectures name DeepseekOCRForCausalLM or its vision_config's model_name is "deeplip_b_l"
  // (SAM-B with CLIP-L), so that checkpoints of the same architecture under other names load.
  static bool recognises(const nlohmann::json& config) {
    const auto* type = io::json_find(config, "model_type");
    if (type == nullptr || !type->is_string() || type->get<std::string>() != "deepseek_vl_v2") return false;
    if (const auto* arch = io::json_find(config, "architectures"); arch != nullptr && arch->is_array())
      for (const auto& a : *arch)
        if (a.is_string() && a.get<std::string>() == "DeepseekOCRForCausalLM") return true;
    const auto* vision = io::json_find(config, "vision_config");
    const auto* model_name = vision != nullptr && vision->is_object() ? io::json_find(*vision, "model_name") : nullptr;
    return model_name != nullptr && model_name->is_string() && model_name->get<std::string>() == "deeplip_b_l";
  }
  static constexpr std::string_view recognised_by =
      "model_type \"deepseek_vl_v2\" with architectures [\"DeepseekOCRForCausalLM\"] or vision_config model_name "
      "\"deeplip_b_l\"";

  static Config read_config(const std::filesystem::path& dir) { return read_deepseek_ocr_config(dir); }
  static Processor processor(const std::filesystem::path& dir, const Config& config, vision::PillowVersion pillow) {
    return Processor::from_directory(dir, config, pillow);
  }

  static constexpr std::array<Preset<Config>, 1> presets{{
      {"ocr", "deepseek-ai/DeepSeek-OCR", kDeepSeekOcr},
  }};

  // The config with n routed experts per MoE layer, every other size kept.
  static Config with_routed_experts(Config c, std::int64_t n) {
    c.language.n_routed_experts = n;
    return c;
  }

  static std::string describe(const Config& c) {
    std::ostringstream os;
    os << "DeepSeek-OCR, MHA DeepSeekMoE (" << c.language.n_routed_experts << " routed experts, top "
       << c.language.num_experts_per_tok << ")\n  SAM: " << vision::to_string(c.sam())
       << "\n  CLIP: " << vision::to_string(c.clip()) << "\n  projector: " << vision::to_string(c.projector)
       << "\n  language: " << c.language << "\n  modes:";
    for (const auto& m : kOcrModes)
      os << " " << m.name << " (" << c.tokens_per_side(m.base_size) * c.tokens_per_side(m.base_size)
         << (m.crop ? " tokens + tiles)" : " tokens)");
    os << "\n";
    return os.str();
  }

  // config.json and processor_config.json of a model directory of this config.
  static void write_config_files(const std::filesystem::path& dir, const Config& c) {
    io::write_file(dir / "config.json", to_config_json(c).dump(2) + "\n");
    const nlohmann::json pj = {{"processor_class", "DeepseekVLV2Processor"},
                               {"candidate_resolutions", {{c.vision.image_size, c.vision.image_size}}},
                               {"patch_size", c.sam().patch_size},
                               {"downsample_ratio", 4},
                               {"image_mean", {0.5, 0.5, 0.5}},
                               {"image_std", {0.5, 0.5, 0.5}},
                               {"normalize", true},
                               {"image_token", "<image>"},
                               {"sft_format", "deepseek"}};
    io::write_file(dir / "processor_config.json", pj.dump(2) + "\n");
  }
};

}  // namespace dsvl::models
