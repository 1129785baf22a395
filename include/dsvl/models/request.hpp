#pragma once
// What a caller asks of a vision-language model, and what a generation's processor makes of it.
//
//   Request       a conversation (an optional system message first, then user and assistant turns),
//                 its images (files or decoded RGB), and the switches of the official processors.
//   ModelInputs   what a processor makes of it (models/model_inputs.hpp).
//
// Each image tag in the conversation ("<image_placeholder>" for DeepSeek-VL, "<image>" for
// DeepSeek-VL2) stands for the next image of `images`; a count that differs is the chat format's
// error (language/chat_format.hpp), as in the official processors. One convenience: a request
// whose conversation has no image tag at all gets one per image before the text of its first user
// message (DeepSeek-VL: the tags run together; DeepSeek-VL2: each tag then a newline), which is
// where the official examples put them.
//
// Reading image files needs libpng and libjpeg: link dsvl::image.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dsvl/core/tensor.hpp"
#include "dsvl/io/image.hpp"
#include "dsvl/language/chat_format.hpp"
#include "dsvl/models/model_inputs.hpp"

namespace dsvl::models {

// An image of a request: a PNG or JPEG file, or pixels already decoded as RGB [H, W, 3] uint8
// (rows top to bottom), as io::read_image gives them. Copies clone the pixels.
struct RequestImage {
  std::filesystem::path file;
  Tensor<std::uint8_t, 3> rgb;

  RequestImage() = default;
  RequestImage(std::filesystem::path f, Tensor<std::uint8_t, 3> pixels) : file(std::move(f)), rgb(std::move(pixels)) {}
  RequestImage(const RequestImage& o) : file(o.file), rgb(o.rgb.clone()) {}
  RequestImage(RequestImage&&) noexcept = default;
  RequestImage& operator=(const RequestImage& o) {
    if (this != &o) *this = RequestImage(o);
    return *this;
  }
  RequestImage& operator=(RequestImage&&) noexcept = default;

  static RequestImage from_file(std::filesystem::path path) { return {std::move(path), {}}; }
  static RequestImage from_rgb(Tensor<std::uint8_t, 3> pixels) { return {{}, std::move(pixels)}; }
};

struct Request {
  language::Conversation conversation;
  std::vector<RequestImage> images;  // the i-th image tag's image
  // Ask for a grounded answer (DeepSeek-VL2): "<|grounding|>" before the text of the last user
  // message unless it already holds "<|ref|>" or "<|grounding|>". A generation without grounding
  // tokens refuses it.
  bool grounding = false;
  // On: a conversation that ends with a user message gets the empty assistant message that lets
  // the model answer. Off: the conversation is encoded as given (DeepSeek-VL2: not in inference
  // mode, so the last assistant message keeps its EOS).
  bool generation_prompt = true;
  // Non-empty: the whole prompt as written, with no chat template (BOS, then this text with its
  // image tags expanded); `conversation` is ignored.
  std::string raw_prompt;
  // A generation's image resolution mode (DeepSeek-OCR: "tiny", "small", "base", "large",
  // "gundam"); empty: its default. A generation without modes refuses any other value.
  std::string image_mode;

  // One user question about `images`.
  static Request ask(std::string question, std::vector<RequestImage> images = {}) {
    Request r;
    r.conversation.user(std::move(question));
    r.images = std::move(images);
    return r;
  }
};

namespace detail {

// For the processors of generations without image modes: an error when the request names one.
inline void refuse_image_mode(const Request& r, std::string_view generation) {
  if (!r.image_mode.empty())
    fail(std::string(generation), "image mode \"", r.image_mode, "\" asked for, but ", generation,
         " has no image modes");
}

// The request's images as RGB: files read with io::read_image, decoded pixels shared.
inline std::vector<Tensor<std::uint8_t, 3>> decode_images(const std::vector<RequestImage>& images) {
  std::vector<Tensor<std::uint8_t, 3>> out;
  out.reserve(images.size());
  for (const auto& im : images) out.push_back(im.rgb.size() > 0 ? im.rgb.clone() : io::read_image(im.file));
  return out;
}

// `text` asking for a grounded answer: "<|grounding|>" first unless it holds "<|ref|>" or
// "<|grounding|>" already.
inline std::string grounded(std::string text) {
  if (text.find("<|ref|>") == std::string::npos && text.find("<|grounding|>") == std::string::npos)
    text = "<|grounding|>" + text;
  return text;
}

// The image-tag convenience: one tag per image, each followed by `separator`, before `text`.
inline std::string with_image_tags(const std::string& text, std::size_t images, std::string_view tag,
                                   std::string_view separator) {
  std::string tags;
  for (std::size_t i = 0; i < images; ++i) tags += std::string(tag) + std::string(separator);
  return tags + text;
}

// The conversation to encode: the grounding tag, the image-tag convenience and the generation
// prompt applied (see Request). `tag_separator` follows each image tag that the convenience adds.
inline language::Conversation prepared_conversation(const Request& r, std::string_view image_tag,
                                                    std::string_view tag_separator) {
  language::Conversation c = r.conversation;
  const auto is_user = [](const language::Message& m) { return m.role == language::Role::user; };
  if (r.grounding)
    if (const auto last_user = std::find_if(c.messages.rbegin(), c.messages.rend(), is_user); last_user != c.messages.rend())
      last_user->content = grounded(std::move(last_user->content));
  const bool tagged = std::any_of(c.messages.begin(), c.messages.end(), [&](const language::Message& m) {
    return m.content.find(image_tag) != std::string::npos;
  });
  if (!tagged && !r.images.empty())
    if (const auto first_user = std::find_if(c.messages.begin(), c.messages.end(), is_user); first_user != c.messages.end())
      first_user->content = with_image_tags(first_user->content, r.images.size(), image_tag, tag_separator);
  if (r.generation_prompt && (c.messages.empty() || c.messages.back().role != language::Role::assistant))
    c.assistant();
  return c;
}

// The raw prompt with the grounding tag and the image-tag convenience applied.
inline std::string prepared_raw_prompt(const Request& r, std::string_view image_tag, std::string_view tag_separator) {
  const std::string text = r.grounding ? grounded(r.raw_prompt) : r.raw_prompt;
  if (r.images.empty() || text.find(image_tag) != std::string::npos) return text;
  return with_image_tags(text, r.images.size(), image_tag, tag_separator);
}

}  // namespace detail
}  // namespace dsvl::models
