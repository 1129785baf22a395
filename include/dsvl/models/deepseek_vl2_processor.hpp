#pragma once
// DeepSeekVL2Processor: a Request (models/request.hpp) to DeepSeek-VL2's inputs, as the official
// DeepseekVLV2Processor builds them (deepseek_vl2/models/processing_deepseek_vl_v2.py):
// format_messages_v2 (language/chat_format.hpp), each image tiled by dynamic tiling
// (vision/dynamic_tiling.hpp: cropping only when the request has at most two images) and its
// "<image>" expanded to image_token_count(t, width_tiles, height_tiles) image ids, every tile's
// pixel values normalised, images in order, each image's global view then its local tiles.

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/language/chat_format.hpp"
#include "dsvl/models/deepseek_vl2_config.hpp"
#include "dsvl/models/request.hpp"
#include "dsvl/vision/dynamic_tiling.hpp"
#include "dsvl/vision/tile_layout.hpp"

namespace dsvl::models {

class DeepSeekVL2Processor {
 public:
  // tokens_per_tile_side: t of the model (DeepSeekVL2Config::tokens_per_tile_side()).
  DeepSeekVL2Processor(io::Tokenizer tokenizer, vision::VL2ImageProcessorConfig image, std::int64_t tokens_per_tile_side,
                       vision::PillowVersion pillow = vision::kDefaultPillowVersion)
      : tokenizer_(std::move(tokenizer)), image_(std::move(image)), t_(tokens_per_tile_side), pillow_(pillow) {}

  // tokenizer.json and processor_config.json of a model directory whose config is `config`; the
  // candidate resolutions' tile must be the model's.
  static DeepSeekVL2Processor from_directory(const std::filesystem::path& dir, const DeepSeekVL2Config& config,
                                             vision::PillowVersion pillow = vision::kDefaultPillowVersion) {
    const auto file = dir / "processor_config.json";
    auto image = vision::read_vl2_image_processor_config(file);
    if (image.tile_size() != config.tile_size())
      fail(file.string(), "candidate_resolutions start with tiles of ", image.tile_size(),
           " pixels but the model's vision_config image_size is ", config.tile_size());
    return {io::Tokenizer::from_file(dir / "tokenizer.json"), std::move(image), config.tokens_per_tile_side(), pillow};
  }

  ModelInputs operator()(const Request& request, ThreadPool& pool = ThreadPool::global()) const {
    detail::refuse_image_mode(request, "DeepSeek-VL2");
    namespace chat = language::deepseek_vl2;
    const auto rgb = detail::decode_images(request.images);
    const bool cropping = vision::cropping_enabled(rgb.size());
    std::vector<vision::ImageTiles> tiles;
    std::vector<std::size_t> counts;
    std::int64_t n_tiles = 0;
    ModelInputs in;
    for (const auto& image : rgb) {
      tiles.push_back(vision::tile_image(image.view(), image_, cropping, pillow_, pool));
      const auto& t = tiles.back();
      counts.push_back(static_cast<std::size_t>(vision::image_token_count(t_, t.width_tiles, t.height_tiles)));
      in.images.push_back({t.width_tiles, t.height_tiles});
      in.image_sizes.push_back({image.shape(1), image.shape(0)});
      n_tiles += t.num_tiles();
    }
    const auto prompt =
        request.raw_prompt.empty()
            ? chat::encode_prompt(tokenizer_, detail::prepared_conversation(request, chat::kImageTag, "\n"), counts,
                                  /*inference_mode=*/request.generation_prompt)
            : chat::encode_raw_prompt(tokenizer_, detail::prepared_raw_prompt(request, chat::kImageTag, "\n"), counts);
    in.input_ids = prompt.input_ids;
    in.image_token_id = prompt.image_token_id;
    in.image_spans = prompt.images;
    const std::int64_t S = image_.tile_size();
    in.pixel_values = Tensor<float, 4>({n_tiles, 3, S, S});
    std::int64_t at = 0;
    for (const auto& t : tiles) {
      vision::tile_pixel_values(t, image_, in.pixel_values.view().slice(0, at, at + t.num_tiles()));
      at += t.num_tiles();
    }
    return in;
  }

  // Generation ends at the tokenizer's EOS.
  std::vector<std::int32_t> stop_ids() const { return language::deepseek_vl2::stop_token_ids(tokenizer_); }
  const io::Tokenizer& tokenizer() const noexcept { return tokenizer_; }
  const vision::VL2ImageProcessorConfig& image_config() const noexcept { return image_; }

 private:
  io::Tokenizer tokenizer_;
  vision::VL2ImageProcessorConfig image_;
  std::int64_t t_;
  vision::PillowVersion pillow_;
};

}  // namespace dsvl::models
