#pragma once
// DeepSeekVLProcessor: a Request (models/request.hpp) to DeepSeek-VL's or Janus-Pro's inputs, as
// the official VLChatProcessor builds them (deepseek_vl/models/processing_vlm.py,
// janus/models/processing_vlm.py): the "deepseek" chat template in the model's dialect
// (language/chat_format.hpp), each "<image_placeholder>" expanded to num_image_tokens image ids
// (Janus-Pro: between <begin_of_image> and <end_of_image>), and every image resized and padded to
// one S x S square by VLMImageProcessor (vision/preprocess.hpp), with preprocessor_config.json's
// settings: DeepSeek-VL's pixel values stay in [0, 1] (the model normalises), Janus-Pro's are
// normalised here. One tile per image. Neither has grounding: a request for it is an error.

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
#include "dsvl/models/deepseek_vl_config.hpp"
#include "dsvl/models/request.hpp"
#include "dsvl/vision/preprocess.hpp"

namespace dsvl::models {

class DeepSeekVLProcessor {
 public:
  DeepSeekVLProcessor(io::Tokenizer tokenizer, const vision::VLMImageProcessorConfig& image,
                      std::int64_t num_image_tokens, vision::PillowVersion pillow = vision::kDefaultPillowVersion,
                      const language::deepseek_vl::Dialect& dialect = language::deepseek_vl::kDeepSeekVL)
      : tokenizer_(std::move(tokenizer)),
        image_(image),
        num_image_tokens_(num_image_tokens),
        pillow_(pillow),
        dialect_(dialect) {}

  // tokenizer.json and preprocessor_config.json of a model directory whose config is `config`;
  // the processor's image_size must be the model's.
  static DeepSeekVLProcessor from_directory(
      const std::filesystem::path& dir, const DeepSeekVLConfig& config,
      vision::PillowVersion pillow = vision::kDefaultPillowVersion,
      const language::deepseek_vl::Dialect& dialect = language::deepseek_vl::kDeepSeekVL) {
    const auto file = dir / "preprocessor_config.json";
    const auto image = vision::read_vlm_image_processor_config(file);
    if (image.image_size != config.image_size())
      fail(file.string(), "image_size is ", image.image_size, " but the model takes ", config.image_size(), " px");
    vision::detail::check_config(image, file.string().c_str());
    return {io::Tokenizer::from_file(dir / "tokenizer.json"), image, config.num_image_tokens(), pillow, dialect};
  }

  ModelInputs operator()(const Request& request, ThreadPool& pool = ThreadPool::global()) const {
    detail::refuse_image_mode(request, dialect_.models);
    namespace chat = language::deepseek_vl;
    if (request.grounding)
      fail("DeepSeekVLProcessor", "the request asks for grounding, but ", dialect_.models, " has no grounding tokens");
    const std::size_t n = request.images.size(), K = static_cast<std::size_t>(num_image_tokens_);
    const std::string_view tag = chat::kImageTag, after = dialect_.after_image_tag;
    const auto prompt =
        request.raw_prompt.empty()
            ? chat::encode_prompt(tokenizer_, detail::prepared_conversation(request, tag, after), n, K, dialect_)
            : chat::encode_raw_prompt(tokenizer_, detail::prepared_raw_prompt(request, tag, after), n, K, dialect_);
    ModelInputs in;
    in.input_ids = prompt.input_ids;
    in.image_token_id = prompt.image_token_id;
    in.image_spans = prompt.images;
    const std::int64_t S = image_.image_size;
    in.pixel_values = Tensor<float, 4>({static_cast<std::int64_t>(n), 3, S, S});
    const auto rgb = detail::decode_images(request.images);
    for (std::size_t i = 0; i < n; ++i) {
      vision::vlm_preprocess(rgb[i].view(), image_, in.pixel_values.view()[static_cast<std::int64_t>(i)], pillow_, pool);
      in.images.push_back({});
      in.image_sizes.push_back({rgb[i].shape(1), rgb[i].shape(0)});
    }
    return in;
  }

  // Generation ends at EOS.
  std::vector<std::int32_t> stop_ids() const { return language::deepseek_vl::stop_token_ids(tokenizer_); }
  const io::Tokenizer& tokenizer() const noexcept { return tokenizer_; }
  const vision::VLMImageProcessorConfig& image_config() const noexcept { return image_; }
  const language::deepseek_vl::Dialect& dialect() const noexcept { return dialect_; }

 private:
  io::Tokenizer tokenizer_;
  vision::VLMImageProcessorConfig image_;
  std::int64_t num_image_tokens_;
  vision::PillowVersion pillow_;
  language::deepseek_vl::Dialect dialect_;
};

}  // namespace dsvl::models
