#pragma once
// ModelInputs: what a generation's processor (models/deepseek_vl_processor.hpp,
// models/deepseek_vl2_processor.hpp) makes of a Request and what the model's encode_images and
// embed take: input ids with each image's tokens in place, every image's tiles as pixel values,
// and each image's tile grid (the image-token layout).

#include <array>
#include <cstdint>
#include <vector>

#include "dsvl/core/tensor.hpp"
#include "dsvl/language/chat_format.hpp"

namespace dsvl::models {

// One image's tiles: the global view, then width_tiles x height_tiles local tiles, row-major. A
// generation that does not tile (DeepSeek-VL), or an image it does not tile (DeepSeek-OCR), has
// 0 x 0 local tiles: one view per image.
struct ImageGrid {
  std::int64_t width_tiles = 0;
  std::int64_t height_tiles = 0;

  constexpr std::int64_t num_tiles() const noexcept { return 1 + width_tiles * height_tiles; }
  bool operator==(const ImageGrid&) const = default;
};

struct ModelInputs {
  std::vector<std::int32_t> input_ids;           // (T), BOS first
  std::int32_t image_token_id = -1;              // the id that each image token holds
  std::vector<language::ImageSpan> image_spans;  // where each image's tokens sit in input_ids
  Tensor<float, 4> pixel_values;                 // (n_tiles, 3, S, S): every image's tiles, images in order
  // (n_local, 3, S', S'): where the local tiles are smaller than the global views (DeepSeek-OCR's
  // Gundam mode), every image's local tiles, images in order; pixel_values then holds one global
  // view per image. Empty otherwise.
  Tensor<float, 4> local_pixel_values;
  std::vector<ImageGrid> images;                 // each image's tiles, in order
  std::vector<std::array<std::int64_t, 2>> image_sizes;  // each image's (width, height) in pixels
};

}  // namespace dsvl::models
