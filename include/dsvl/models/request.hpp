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

#include <cstdint>
#include <filesystem>
#include <string>
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

  // One user question about `images`.
  static Request ask(std::string question, std::vector<RequestImage> images = {}) {
    Request r;
    r.conversation.user(std::move(question));
    r.images = std::move(images);
    return r;
  }
};

namespace detail {

// The request's images as RGB: files read with io::read_image, decoded pixels shared.
inline std::vector<Tensor<std::uint8_t, 3>> decode_images(const std::vector<RequestImage>& images) {
  std::vector<Tensor<std::uint8_t, 3>> out;
  out.reserve(images.size());
  for (const auto& im : images) out.push_back(im.rgb.size() > 0 ? im.rgb.clone() : io::read_image(im.file));
  return out;
}

// The conversation to encode: the grounding tag, the image-tag convenience and the generation
// prompt applied (see Request). `tag_separator` follows each image tag that the convenience adds.
inline language::Conversation prepared_conversation(const Request& r, std::string_view image_tag,
                                                    std::string_view tag_separator) {
  language::Conversation c = r.conversation;
  auto last_user = c.messages.rend();
  for (auto it = c.messages.rbegin(); it != c.messages.rend(); ++it)
    if (it->role == language::Role::user) {
      last_user = it;
      break;
    }
  if (r.grounding && last_user != c.messages.rend() && last_user->content.find("<|ref|>") == std::string::npos &&
      last_user->content.find("<|grounding|>") == std::string::npos)
    last_user->content = "<|grounding|>" + last_user->content;
  bool tagged = false;
  for (const auto& m : c.messages) tagged = tagged || m.content.find(image_tag) != std::string::npos;
  if (!tagged && !r.images.empty())
    for (auto& m : c.messages)
      if (m.role == language::Role::user) {
        std::string tags;
        for (std::size_t i = 0; i < r.images.size(); ++i) tags += std::string(image_tag) + std::string(tag_separator);
        m.content = tags + m.content;
        break;
      }
  if (r.generation_prompt && (c.messages.empty() || c.messages.back().role != language::Role::assistant))
    c.assistant();
  return c;
}

// The raw prompt with the grounding tag and the image-tag convenience applied.
inline std::string prepared_raw_prompt(const Request& r, std::string_view image_tag, std::string_view tag_separator) {
  std::string text = r.raw_prompt;
  if (r.grounding && text.find("<|ref|>") == std::string::npos && text.find("<|grounding|>") == std::string::npos)
    text = "<|grounding|>" + text;
  if (r.images.empty() || text.find(image_tag) != std::string::npos) return text;
  std::string tags;
  for (std::size_t i = 0; i < r.images.size(); ++i) tags += std::string(image_tag) + std::string(tag_separator);
  return tags + text;
}

}  // namespace detail
}  // namespace dsvl::models
