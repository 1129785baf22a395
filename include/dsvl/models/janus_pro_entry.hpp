#pragma once
// Janus-Pro's registry entry (models/registry.hpp): understanding with deepseek-ai/Janus-Pro-1B
// and -7B. Its understanding path is DeepSeek-VL 1.3B's architecture (a SigLIP tower, the
// mlp_gelu aligner, a LLaMA decoder), so the config, the composed model and the processor are
// DeepSeek-VL's: the config records that the image-generation parts are present (the model
// declares their tensors unused), and the processor speaks Janus's dialect of the chat format
// (language::deepseek_vl::kJanusPro) with the normalisation of its preprocessor_config.json.

#include <array>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dsvl/io/json.hpp"
#include "dsvl/io/output.hpp"
#include "dsvl/language/chat_format.hpp"
#include "dsvl/models/deepseek_vl.hpp"
#include "dsvl/models/deepseek_vl_config.hpp"
#include "dsvl/models/deepseek_vl_processor.hpp"
#include "dsvl/models/preset.hpp"
#include "dsvl/vision/preprocess.hpp"

namespace dsvl::models {

struct JanusProEntry {
  static constexpr std::string_view name = "Janus-Pro";
  using Config = DeepSeekVLConfig;
  using Processor = DeepSeekVLProcessor;
  template <KernelPolicy P, KernelPolicy VisionP>
  using Model = DeepSeekVL<P, kDynamicDeepSeekVL, VisionP>;

  // config.json's model_type is "multi_modality" and it has a gen_vision_config (DeepSeek-VL shares
  // the model_type and the architectures, without the image-generation parts).
  static bool recognises(const nlohmann::json& config) {
    const auto* type = io::json_find(config, "model_type");
    return type != nullptr && type->is_string() && type->get<std::string>() == "multi_modality" &&
           io::json_find(config, "gen_vision_config") != nullptr;
  }
  static constexpr std::string_view recognised_by = "model_type \"multi_modality\" with a gen_vision_config";

  // DeepSeek-VL's config, which must hold the image-generation parts (else it is DeepSeek-VL's).
  static Config read_config(const std::filesystem::path& dir) {
    Config c = read_deepseek_vl_config(dir);
    if (!c.image_generation)
      fail((dir / "config.json").string(), "no gen_vision_config: a DeepSeek-VL config, not Janus-Pro's");
    return c;
  }
  static Processor processor(const std::filesystem::path& dir, const Config& config, vision::PillowVersion pillow) {
    return Processor::from_directory(dir, config, pillow, language::deepseek_vl::kJanusPro);
  }

  static constexpr std::array<Preset<Config>, 2> presets{{
      {"janus-pro-1b", "deepseek-ai/Janus-Pro-1B", kJanusPro1B},
      {"janus-pro-7b", "deepseek-ai/Janus-Pro-7B", kJanusPro7B},
  }};

  static std::string describe(const Config& c) {
    std::ostringstream os;
    os << "Janus-Pro (understanding; the image-generation parts are not run), CLIPVisionTower (SigLIP)\n  images: "
       << c.image_size() << "x" << c.image_size() << " px, " << c.num_image_tokens()
       << " tokens each\n  SigLIP: " << vision::to_string(c.siglip) << "\n  aligner: " << vision::to_string(c.aligner)
       << "\n  language: " << c.language << "\n";
    return os.str();
  }

  // config.json (with the released image-generation configs) and Janus-Pro's
  // preprocessor_config.json at the model's image size.
  static void write_config_files(const std::filesystem::path& dir, const Config& c) {
    Config janus = c;
    janus.image_generation = true;
    io::write_file(dir / "config.json", to_config_json(janus).dump(2) + "\n");
    auto proc = vision::kJanusProImageProcessor;
    proc.image_size = c.image_size();
    const nlohmann::json pj = {{"image_processor_type", "VLMImageProcessor"}, {"image_size", proc.image_size},
                               {"min_size", proc.min_size},   {"image_mean", proc.image_mean},
                               {"image_std", proc.image_std}, {"rescale_factor", proc.rescale_factor},
                               {"do_normalize", proc.do_normalize}};
    io::write_file(dir / "preprocessor_config.json", pj.dump(2) + "\n");
  }
};

}  // namespace dsvl::models
