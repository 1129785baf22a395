#pragma once
// DeepSeek-VL2's registry entry (models/registry.hpp): how a model directory is recognised, its
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
#include "dsvl/models/deepseek_vl2.hpp"
#include "dsvl/models/deepseek_vl2_config.hpp"
#include "dsvl/models/deepseek_vl2_processor.hpp"
#include "dsvl/models/preset.hpp"
#include "dsvl/vision/dynamic_tiling.hpp"

namespace dsvl::models {

struct DeepSeekVL2Entry {
  static constexpr std::string_view name = "DeepSeek-VL2";
  using Config = DeepSeekVL2Config;
  using Processor = DeepSeekVL2Processor;
  template <KernelPolicy P, KernelPolicy VisionP>
  using Model = DeepSeekVL2<P, kDynamicDeepSeekVL2, VisionP>;

  // config.json's model_type is "deepseek_vl_v2" and its architectures, where given, are
  // DeepseekVLV2ForCausalLM (DeepSeek-OCR shares the model_type with another architecture).
  static bool recognises(const nlohmann::json& config) {
    const auto* type = io::json_find(config, "model_type");
    if (type == nullptr || !type->is_string() || type->get<std::string>() != "deepseek_vl_v2") return false;
    const auto* arch = io::json_find(config, "architectures");
    if (arch == nullptr || arch->is_null()) return true;
    if (!arch->is_array()) return false;
    for (const auto& a : *arch)
      if (a.is_string() && a.get<std::string>() == "DeepseekVLV2ForCausalLM") return true;
    return false;
  }
  static constexpr std::string_view recognised_by = "model_type \"deepseek_vl_v2\"";

  static Config read_config(const std::filesystem::path& dir) { return read_deepseek_vl2_config(dir); }
  static Processor processor(const std::filesystem::path& dir, const Config& config, vision::PillowVersion pillow) {
    return Processor::from_directory(dir, config, pillow);
  }

  static constexpr std::array<Preset<Config>, 3> presets{{
      {"vl2-tiny", "deepseek-ai/deepseek-vl2-tiny", kDeepSeekVL2Tiny},
      {"vl2-small", "deepseek-ai/deepseek-vl2-small", kDeepSeekVL2Small},
      {"vl2-base", "deepseek-ai/deepseek-vl2", kDeepSeekVL2Base},
  }};

  // The config with n routed experts per MoE layer, every other size kept: a token still runs
  // num_experts_per_tok routed experts and the shared ones (for measuring a model too big for memory).
  static Config with_routed_experts(Config c, std::int64_t n) {
    c.language.n_routed_experts = n;
    return c;
  }

  // The architecture in a few lines: attention, routing, tiles, every block's sizes.
  static std::string describe(const Config& c) {
    std::ostringstream os;
    os << "DeepSeek-VL2, " << (c.language.use_mla ? "MLA" : "MHA") << " DeepSeekMoE (" << c.language.n_routed_experts
       << " routed experts, top " << c.language.num_experts_per_tok << ", "
       << language::topk_method_name(c.language.topk_method) << ")\n  tiles: " << c.tile_size() << "x" << c.tile_size()
       << " px, " << c.tokens_per_tile_side() << "x" << c.tokens_per_tile_side()
       << " tokens each\n  SigLIP: " << vision::to_string(c.vision) << "\n  language: " << c.language << "\n";
    return os.str();
  }

  // config.json and processor_config.json of a model directory of this config (the released
  // candidate resolutions and processor settings).
  static void write_config_files(const std::filesystem::path& dir, const Config& c) {
    const vision::CandidateResolutions candidates(vision::kCandidateResolutionsVL2);
    const nlohmann::json config = to_config_json(c, candidates);
    io::write_file(dir / "config.json", config.dump(2) + "\n");
    const nlohmann::json pj = {{"processor_class", "DeepseekVLV2Processor"},
                               {"candidate_resolutions", config["candidate_resolutions"]},
                               {"patch_size", c.vision.patch_size},
                               {"downsample_ratio", c.projector.downsample_ratio},
                               {"image_mean", {0.5, 0.5, 0.5}},
                               {"image_std", {0.5, 0.5, 0.5}},
                               {"normalize", true},
                               {"image_token", "<image>"},
                               {"sft_format", "deepseek"}};
    io::write_file(dir / "processor_config.json", pj.dump(2) + "\n");
  }
};

}  // namespace dsvl::models
