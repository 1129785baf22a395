#pragma once
// WeightFormat: how a model's matrices are held in memory, as the model shell (models/model.hpp)
// and `dsvl quantize` name it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dsvl::models {

// How matrices are held in memory: as the checkpoint stores them (automatic), f32, bf16, or
// quantized with a scale per 32 weights (docs/quantization.md).
enum class WeightFormat : std::uint8_t { automatic, f32, bf16, q8, q4 };
inline constexpr std::array<std::string_view, 5> kWeightFormatNames{"auto", "f32", "bf16", "q8", "q4"};

constexpr std::string_view weight_format_name(WeightFormat f) noexcept {
  return kWeightFormatNames[static_cast<std::size_t>(f)];
}
inline std::optional<WeightFormat> parse_weight_format(std::string_view name) {
  for (std::size_t i = 0; i < kWeightFormatNames.size(); ++i)
    if (kWeightFormatNames[i] == name) return static_cast<WeightFormat>(i);
  return std::nullopt;
}
constexpr bool is_quantized(WeightFormat f) noexcept { return f == WeightFormat::q8 || f == WeightFormat::q4; }

// The metadata keys of a checkpoint written by Model::save_weights: the language model's format,
// and the vision side's where it is quantized too.
inline constexpr const char* kWeightsMetadata = "dsvl.weights";
inline constexpr const char* kVisionWeightsMetadata = "dsvl.vision_weights";
// The seed of a random-weight checkpoint (write_random_model).
inline constexpr const char* kRandomSeedMetadata = "dsvl.random_seed";

}  // namespace dsvl::models
