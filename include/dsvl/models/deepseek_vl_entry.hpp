#pragma once
// DeepSeek-VL's registry entry (models/registry.hpp): how a model directory is recognised, its
// config, processor and composed model type, its released sizes, and the files that describe it.

#include <array>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dsvl/io/json.hpp"
#include "dsvl/io/output.hpp"
#include "dsvl/models/deepseek_vl.hpp"
#include "dsvl/models/deepseek_vl_config.hpp"
#include "dsvl/models/deepseek_vl_processor.hpp"
#include "dsvl/models/preset.hpp"
#include "dsvl/vision/preprocess.hpp"

namespace dsvl::models {

struct DeepSeekVLEntry {
  static constexpr std::string_view name = "DeepSeek-VL";
  using Config = DeepSeekVLConfig;
  using Processor = DeepSeekVLProcessor;
  template <KernelPolicy P, KernelPolicy VisionP>
  using Model = DeepSeekVL<P, kDynamicDeepSeekVL, VisionP>;

  // config.json's model_type is "multi_modality" (MultiModalityCausalLM).
  static bool recognises(const nlohmann::json& config) {
    const auto* type = io::json_find(config, "model_type");
    return type != nullptr && type->is_string() && type->get<std::string>() == "multi_modality";
  }
  static constexpr std::string_view recognised_by = "model_type \"multi_modality\"";

  static Config read_config(const std::filesystem::path& dir) { return read_deepseek_vl_config(dir); }
  static Processor processor(const std::filesystem::path& dir, const Config& config, vision::PillowVersion pillow) {
    return Processor::from_directory(dir, config, pillow);
  }

  static constexpr std::array<Preset<Config>, 2> presets{{
      {"1.3b", "deepseek-ai/deepseek-vl-1.3b-chat", kDeepSeekVL1_3B},
      {"7b", "deepseek-ai/deepseek-vl-7b-chat", kDeepSeekVL7B},
  }};

  // The architecture in a few lines: towers, image tokens, every block's sizes.
  static std::string describe(const Config& c) {
    std::ostringstream os;
    os << "DeepSeek-VL (v1), " << (c.hybrid() ? "HybridVisionTower (SAM + SigLIP)" : "CLIPVisionTower (SigLIP)")
       << "\n  images: " << c.image_size() << "x" << c.image_size() << " px, " << c.num_image_tokens()
       << " tokens each\n  SigLIP: " << vision::to_string(c.siglip) << "\n";
    if (c.hybrid()) os << "  SAM: " << vision::to_string(c.sam) << "\n";
    os << "  aligner: " << vision::to_string(c.aligner) << "\n  language: " << c.language << "\n";
    return os.str();
  }

  // config.json and preprocessor_config.json of a model directory of this config (with the
  // released processor settings of its tower kind).
  static void write_config_files(const std::filesystem::path& dir, const Config& c) {
    io::write_file(dir / "config.json", to_config_json(c).dump(2) + "\n");
    const auto proc = c.hybrid() ? vision::kDeepSeekVL7BImageProcessor : vision::kDeepSeekVL1_3BImageProcessor;
    const nlohmann::json pj = {{"image_processor_type", "VLMImageProcessor"}, {"image_size", proc.image_size},
                               {"min_size", proc.min_size},   {"image_mean", proc.image_mean},
                               {"image_std", proc.image_std}, {"rescale_factor", proc.rescale_factor},
                               {"do_normalize", proc.do_normalize}};
    io::write_file(dir / "preprocessor_config.json", pj.dump(2) + "\n");
  }
};

}  // namespace dsvl::models
