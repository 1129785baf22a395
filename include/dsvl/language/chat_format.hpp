#pragma once
// Chat formats of DeepSeek-VL (v1), Janus-Pro and DeepSeek-VL2: a conversation turned into the
// prompt text and into the input ids exactly as the official processors build them (DeepSeek-VL's
// and Janus's VLChatProcessor with the "deepseek" template; DeepSeek-VL2's DeepseekVLV2Processor,
// format_messages_v2), image tokens included.
//
// A conversation is a list of messages, each a role and a text. Images are not stored in it: each
// image is written as the model's image tag inside a user message ("<image_placeholder>" for
// DeepSeek-VL, "<image>" for DeepSeek-VL2), and the i-th tag of the conversation is the i-th image
// the caller encodes. To let the model answer, end the conversation with an assistant message
// with empty content (the generation slot), as the official examples do:
//
//   Conversation c;
//   c.user("<image>\nDescribe this image.").assistant();
//   auto p = deepseek_vl2::encode_prompt(tokenizer, c, {vision::image_token_count(14, 2, 2)});
//   // p.input_ids: BOS, the prompt, 1023 copies of the <image> id where the tag was.
//
// Contents are stripped of leading and trailing white space as Python's str.strip() does
// (Unicode White_Space plus U+001C..U+001F). The formats never look inside a content for
// anything but the image tag; special-token strings written in it ("<|ref|>", the EOS string, ...)
// become their ids because the tokenizer matches added tokens in the text.
//
// Errors are dsvl::Error with where() "chat_format": an unknown role, a system message that is not
// the first message, a number of images that differs from the number of image tags, an image tag
// in an assistant message (DeepSeek-VL2), a DeepSeek-VL2 conversation in inference mode whose last
// message is not an assistant message, and a special token that the format needs and the tokenizer
// lacks (the official processors add missing ones to the tokenizer; dsvl cannot grow a vocabulary).

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/io/tokenizer.hpp"

namespace dsvl::language {

enum class Role { system, user, assistant };

// The role named by `name`: "system" and "deepseekapi-sys"; "user", "User" and "<|User|>";
// "assistant", "Assistant" and "<|Assistant|>" (the spellings the official processors accept).
// Any other name is an error.
Role parse_role(std::string_view name);

struct Message {
  Role role;
  std::string content;
};

struct Conversation {
  std::vector<Message> messages;

  Conversation& system(std::string content) { return add(Role::system, std::move(content)); }
  Conversation& user(std::string content) { return add(Role::user, std::move(content)); }
  // With no argument: the generation slot.
  Conversation& assistant(std::string content = {}) { return add(Role::assistant, std::move(content)); }
  Conversation& add(Role role, std::string content) {
    messages.push_back({role, std::move(content)});
    return *this;
  }
};

// Where one image's tokens sit in the input ids: input_ids[offset, offset + length) all hold the
// image token id, and the model writes this image's embeddings there, in order.
struct ImageSpan {
  std::size_t offset;
  std::size_t length;
};

struct EncodedPrompt {
  std::vector<std::int32_t> input_ids;  // (T), BOS first
  std::int32_t image_token_id;
  std::vector<ImageSpan> images;  // one per image tag, in conversation order
};

// The BOS and EOS strings of every DeepSeek tokenizer (fullwidth bars U+FF5C, U+2581 between words).
inline constexpr std::string_view kBosToken = "<\uFF5Cbegin\u2581of\u2581sentence\uFF5C>";
inline constexpr std::string_view kEosToken = "<\uFF5Cend\u2581of\u2581sentence\uFF5C>";

// ---------------------------------------------------------------------------------------------
// DeepSeek-VL (v1) and Janus-Pro: the "deepseek" template of deepseek_vl/utils/conversation.py and
// janus/utils/conversation.py, which differ in the Dialect below.
//
// Text: the system prompt and "\n\n" (nothing when the system prompt is empty), then for the k-th
// non-system message "Role: content" followed by "\n\n" when k is even and by the EOS string when
// k is odd, or just "Role:" when the content is empty; the whole text is stripped. Roles are
// written as the dialect's official examples write them: "User" and "Assistant" for DeepSeek-VL,
// "<|User|>" and "<|Assistant|>" for Janus-Pro. In the usual alternation user, assistant, ... this
// gives
//
//   {system}\n\nUser: {q1}\n\nAssistant: {a1}<｜end▁of▁sentence｜>User: {q2}\n\nAssistant:
//
// The separator follows the position, not the role, as in the official template. The system
// prompt is kSystemPrompt unless the conversation starts with a system message, whose content
// (not stripped; the final strip applies) replaces it; an empty one means no system text. The
// official processor always uses its default; the template takes another, which is what a system
// message gives here.
//
// Ids: BOS, the text encoded in one piece, then each image tag's id replaced by `tokens_per_image`
// copies of it (576 for the released models), between the dialect's image start and end tags
// (Janus-Pro: <begin_of_image> and <end_of_image>). A conversation that ends with a non-empty
// assistant message keeps that message's EOS string, as the official processor does.
namespace deepseek_vl {

inline constexpr std::string_view kImageTag = "<image_placeholder>";
inline constexpr std::size_t kImageTokens = 576;
// Both processors' system_prompt.
inline constexpr std::string_view kSystemPrompt =
    "You are a helpful language and vision assistant. You are able to understand the visual "
    "content that the user provides, and assist the user with a variety of tasks using natural "
    "language.";

// What DeepSeek-VL's and Janus's VLChatProcessor write differently.
struct Dialect {
  std::string_view models;                          // for errors
  std::string_view user, assistant;                 // the roles of the official examples
  std::string_view image_start_tag, image_end_tag;  // around each image's tokens; empty: none
  std::string_view after_image_tag;  // what the official examples write after an image tag (models/request.hpp)
};
inline constexpr Dialect kDeepSeekVL{"DeepSeek-VL", "User", "Assistant", "", "", ""};
inline constexpr Dialect kJanusPro{"Janus-Pro", "<|User|>", "<|Assistant|>", "<begin_of_image>", "<end_of_image>",
                                   "\n"};

std::string render_prompt(const Conversation& conversation, const Dialect& dialect = kDeepSeekVL);

// `num_images` must equal the number of image tags in the conversation.
EncodedPrompt encode_prompt(const io::Tokenizer& tokenizer, const Conversation& conversation,
                            std::size_t num_images, std::size_t tokens_per_image = kImageTokens,
                            const Dialect& dialect = kDeepSeekVL);

// The ids of a prompt already written out (no template): BOS, then `text` with its image tags
// expanded as above. encode_prompt is this on render_prompt's text.
EncodedPrompt encode_raw_prompt(const io::Tokenizer& tokenizer, std::string_view text, std::size_t num_images,
                                std::size_t tokens_per_image = kImageTokens, const Dialect& dialect = kDeepSeekVL);

// Generation stops at EOS (the template's stop_token_ids [100001]). The template also lists the
// stop string "User:", which only the official web demo uses.
std::vector<std::int32_t> stop_token_ids(const io::Tokenizer& tokenizer);

}  // namespace deepseek_vl

// ---------------------------------------------------------------------------------------------
// DeepSeek-VL2: format_messages_v2 of deepseek_vl2/models/processing_deepseek_vl_v2.py.
//
// The ids are built message by message, never from one rendered string:
//   - BOS;
//   - a system message (first only): its stripped content, with no role and no separator;
//   - a user message: "<|User|>: " + stripped content + "\n\n<|Assistant|>:" ("<|User|>:<|Assistant|>:"
//     when the content is empty), split on "<image>"; each piece is encoded on its own, and each
//     tag becomes the caller's count of image ids for that image;
//   - an assistant message: its stripped content encoded, then EOS; no space after the "<|Assistant|>:"
//     that the user message ended with, and nothing between the EOS and the next "<|User|>";
//   - in inference mode (the default) the EOS of the last message, which must be an assistant
//     message, is dropped: with an empty last message the ids end with "<|Assistant|>:", and with a
//     non-empty one the model continues that answer.
// Because each message (and each piece between image tags) is encoded separately, encoding the
// rendered text in one piece can give other ids.
namespace deepseek_vl2 {

inline constexpr std::string_view kImageTag = "<image>";
inline constexpr std::string_view kUserTag = "<|User|>";
inline constexpr std::string_view kAssistantTag = "<|Assistant|>";
// Grounding tokens (spec 6.4): "<|ref|>phrase<|/ref|>" asks for a box, "<|grounding|>" at the start
// of a prompt asks for a grounded caption; answers carry "<|det|>[[x1, y1, x2, y2]]<|/det|>".
inline constexpr std::array<std::string_view, 5> kGroundingTokens = {"<|ref|>", "<|/ref|>", "<|det|>",
                                                                     "<|/det|>", "<|grounding|>"};

// The text the ids spell after BOS, each image as one "<image>" tag, with the EOS string where the
// ids hold EOS. (The processor's own sft_format is a display string that differs from the ids:
// it writes ": " before answers and renders a system message as a turn.)
std::string render_prompt(const Conversation& conversation, bool inference_mode = true);

// `image_token_counts[i]`: the number of image tokens of the i-th image tag
// (vision::image_token_count of its tiling, vision/tile_layout.hpp); its size must equal the
// number of tags.
EncodedPrompt encode_prompt(const io::Tokenizer& tokenizer, const Conversation& conversation,
                            std::span<const std::size_t> image_token_counts, bool inference_mode = true);
inline EncodedPrompt encode_prompt(const io::Tokenizer& tokenizer, const Conversation& conversation,
                                   std::initializer_list<std::size_t> image_token_counts,
                                   bool inference_mode = true) {
  return encode_prompt(tokenizer, conversation,
                       std::span<const std::size_t>(image_token_counts.begin(), image_token_counts.size()),
                       inference_mode);
}

// The ids of a prompt already written out (no template): BOS, then `text` split on "<image>" as a
// user message is, each tag becoming its image's count of image ids.
EncodedPrompt encode_raw_prompt(const io::Tokenizer& tokenizer, std::string_view text,
                                std::span<const std::size_t> image_token_counts);

// Generation stops at the tokenizer's EOS (1 for Tiny and Base, 100001 for Small). The template's
// stop_token_ids [100001] are left over from DeepSeek-VL and are not used.
std::vector<std::int32_t> stop_token_ids(const io::Tokenizer& tokenizer);

}  // namespace deepseek_vl2

// ---------------------------------------------------------------------------------------------
// Implementation.

namespace detail {

inline constexpr const char* kWhere = "chat_format";

// Python's str.isspace().
constexpr bool is_py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// The code point that starts at s[i] and its length in bytes; length 0 if the bytes there are not
// UTF-8 (such bytes are never white space).
inline std::pair<char32_t, std::size_t> utf8_at(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return {c, 1};
  const std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return {0, 0};
  char32_t cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  return {cp, n};
}

// Python's str.strip() on UTF-8 text.
inline std::string_view strip(std::string_view s) {
  std::size_t begin = 0;
  while (begin < s.size()) {
    const auto [cp, n] = utf8_at(s, begin);
    if (n == 0 || !is_py_space(cp)) break;
    begin += n;
  }
  std::size_t end = s.size();
  while (end > begin) {
    std::size_t start = end - 1;  // back up to the lead byte of the last code point
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && end - start < 4) --start;
    const auto [cp, n] = utf8_at(s, start);
    if (n != end - start || !is_py_space(cp)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

inline std::size_t count_of(std::string_view text, std::string_view tag) {
  std::size_t n = 0;
  for (std::size_t p = text.find(tag); p != std::string_view::npos; p = text.find(tag, p + tag.size())) ++n;
  return n;
}

inline void check_role(Role r) {
  if (r != Role::system && r != Role::user && r != Role::assistant)
    fail(kWhere, "unknown role ", static_cast<int>(r));
}

inline void check_system_first(const Conversation& c) {
  for (std::size_t i = 0; i < c.messages.size(); ++i) {
    check_role(c.messages[i].role);
    if (i > 0 && c.messages[i].role == Role::system)
      fail(kWhere, "message ", i, " is a system message; a system message may only come first");
  }
}

inline std::int32_t required_token(const io::Tokenizer& tok, std::string_view token, std::string_view why) {
  if (const auto id = tok.token_to_id(token)) return *id;
  fail(kWhere, "the tokenizer has no token '", token, "', which ", why, " needs");
}

inline std::int32_t bos_of(const io::Tokenizer& tok) {
  if (const auto id = tok.bos_id()) return *id;
  return required_token(tok, kBosToken, "the start of every prompt (BOS)");
}

inline std::int32_t eos_of(const io::Tokenizer& tok) {
  if (const auto id = tok.eos_id()) return *id;
  return required_token(tok, kEosToken, "the end of a turn (EOS)");
}

inline void append(std::vector<std::int32_t>& ids, const std::vector<std::int32_t>& more) {
  ids.insert(ids.end(), more.begin(), more.end());
}

inline std::string images_mismatch(std::size_t tags, std::string_view tag, std::size_t images) {
  return ::dsvl::detail::concat("the conversation has ", tags, " image tag", tags == 1 ? "" : "s", " ('", tag,
                                "') but ", images, " image", images == 1 ? " was" : "s were", " given");
}

// The text of a user message, before it is split on the image tag.
inline std::string vl2_user_text(std::string_view content) {
  const std::string_view q = strip(content);
  std::string text(deepseek_vl2::kUserTag);
  if (q.empty()) {
    text += ':';
  } else {
    text += ": ";
    text += q;
    text += "\n\n";
  }
  text += deepseek_vl2::kAssistantTag;
  text += ':';
  return text;
}

// Checks what both render_prompt and encode_prompt need; returns the number of image tags.
inline std::size_t vl2_check(const Conversation& c, bool inference_mode) {
  check_system_first(c);
  std::size_t tags = 0;
  for (std::size_t i = 0; i < c.messages.size(); ++i) {
    const Message& m = c.messages[i];
    if (m.role == Role::user) tags += count_of(strip(m.content), deepseek_vl2::kImageTag);
    if (m.role == Role::assistant && count_of(m.content, deepseek_vl2::kImageTag) > 0)
      fail(kWhere, "message ", i, " is an assistant message with an image tag ('", deepseek_vl2::kImageTag,
           "'); only user messages may hold images");
    if (m.role == Role::system && count_of(m.content, deepseek_vl2::kImageTag) > 0)
      fail(kWhere, "the system message holds an image tag ('", deepseek_vl2::kImageTag,
           "'); only user messages may hold images");
  }
  if (inference_mode && (c.messages.empty() || c.messages.back().role != Role::assistant))
    fail(kWhere,
         "in inference mode the last message must be an assistant message (empty to let the model answer)");
  return tags;
}

// Appends `text` split on "<image>", each piece encoded on its own and each tag replaced by the
// next image's run of image ids (tokenize_with_images); `image` counts the images used so far.
inline void vl2_append_with_images(const io::Tokenizer& tokenizer, std::string_view text,
                                   std::span<const std::size_t> image_token_counts, std::size_t& image,
                                   EncodedPrompt& out) {
  for (std::size_t p = text.find(deepseek_vl2::kImageTag); p != std::string_view::npos; p = text.find(deepseek_vl2::kImageTag)) {
    append(out.input_ids, tokenizer.encode(text.substr(0, p), false));
    out.images.push_back({out.input_ids.size(), image_token_counts[image]});
    out.input_ids.insert(out.input_ids.end(), image_token_counts[image], out.image_token_id);
    ++image;
    text.remove_prefix(p + deepseek_vl2::kImageTag.size());
  }
  append(out.input_ids, tokenizer.encode(text, false));
}
}  // namespace detail

inline Role parse_role(std::string_view name) {
  if (name == "system" || name == "deepseekapi-sys") return Role::system;
  if (name == "user" || name == "User" || name == "<|User|>") return Role::user;
  if (name == "assistant" || name == "Assistant" || name == "<|Assistant|>") return Role::assistant;
  fail(detail::kWhere, "unknown role '", name,
       "' (expected system, user or assistant, or the official spellings User, <|User|>, ...)");
}

namespace deepseek_vl {

inline std::string render_prompt(const Conversation& conversation, const Dialect& dialect) {
  detail::check_system_first(conversation);
  const auto& msgs = conversation.messages;
  std::size_t first = 0;
  std::string_view system = kSystemPrompt;
  if (!msgs.empty() && msgs[0].role == Role::system) {
    system = msgs[0].content;
    first = 1;
  }
  std::string text;
  if (!system.empty()) {
    text += system;
    text += "\n\n";
  }
  for (std::size_t i = first; i < msgs.size(); ++i) {
    text += msgs[i].role == Role::user ? dialect.user : dialect.assistant;
    const std::string_view content = detail::strip(msgs[i].content);
    if (content.empty()) {
      text += ':';
      continue;
    }
    text += ": ";
    text += content;
    if ((i - first) % 2 == 0)
      text += "\n\n";
    else
      text += kEosToken;
  }
  return std::string(detail::strip(text));
}

inline EncodedPrompt encode_prompt(const io::Tokenizer& tokenizer, const Conversation& conversation,
                                   std::size_t num_images, std::size_t tokens_per_image, const Dialect& dialect) {
  return encode_raw_prompt(tokenizer, render_prompt(conversation, dialect), num_images, tokens_per_image, dialect);
}

inline EncodedPrompt encode_raw_prompt(const io::Tokenizer& tokenizer, std::string_view text, std::size_t num_images,
                                       std::size_t tokens_per_image, const Dialect& dialect) {
  EncodedPrompt out;
  const std::string why = ::dsvl::detail::concat("each image of a ", dialect.models, " prompt");
  out.image_token_id = detail::required_token(tokenizer, kImageTag, why);
  const auto tag_id = [&](std::string_view tag) -> std::optional<std::int32_t> {
    if (tag.empty()) return std::nullopt;
    return detail::required_token(tokenizer, tag, why);
  };
  const auto start = tag_id(dialect.image_start_tag), end = tag_id(dialect.image_end_tag);
  const std::int32_t bos = detail::bos_of(tokenizer);
  const std::vector<std::int32_t> ids = tokenizer.encode(text, false);
  std::size_t tags = 0;
  for (const std::int32_t id : ids) tags += id == out.image_token_id;
  if (tags != num_images) fail(detail::kWhere, detail::images_mismatch(tags, kImageTag, num_images));

  out.input_ids.reserve(1 + ids.size() + tags * (tokens_per_image + 2));
  out.input_ids.push_back(bos);
  for (const std::int32_t id : ids) {
    if (id != out.image_token_id) {
      out.input_ids.push_back(id);
      continue;
    }
    if (start) out.input_ids.push_back(*start);
    out.images.push_back({out.input_ids.size(), tokens_per_image});
    out.input_ids.insert(out.input_ids.end(), tokens_per_image, out.image_token_id);
    if (end) out.input_ids.push_back(*end);
  }
  return out;
}

inline std::vector<std::int32_t> stop_token_ids(const io::Tokenizer& tokenizer) {
  return {detail::eos_of(tokenizer)};
}

}  // namespace deepseek_vl

namespace deepseek_vl2 {

inline std::string render_prompt(const Conversation& conversation, bool inference_mode) {
  detail::vl2_check(conversation, inference_mode);
  std::string text;
  for (const Message& m : conversation.messages) {
    switch (m.role) {
      case Role::system:
        text += detail::strip(m.content);
        break;
      case Role::user:
        text += detail::vl2_user_text(m.content);
        break;
      case Role::assistant:
        text += detail::strip(m.content);
        text += kEosToken;
        break;
    }
  }
  if (inference_mode) text.resize(text.size() - kEosToken.size());
  return text;
}

inline EncodedPrompt encode_prompt(const io::Tokenizer& tokenizer, const Conversation& conversation,
                                   std::span<const std::size_t> image_token_counts, bool inference_mode) {
  const std::size_t tags = detail::vl2_check(conversation, inference_mode);
  if (tags != image_token_counts.size())
    fail(detail::kWhere, detail::images_mismatch(tags, kImageTag, image_token_counts.size()));

  EncodedPrompt out;
  out.image_token_id = detail::required_token(tokenizer, kImageTag, "each image of a DeepSeek-VL2 prompt");
  const std::int32_t bos = detail::bos_of(tokenizer);
  const std::int32_t eos = detail::eos_of(tokenizer);
  detail::required_token(tokenizer, kUserTag, "every user turn");
  detail::required_token(tokenizer, kAssistantTag, "every user turn");
  for (const std::string_view token : kGroundingTokens)
    for (const Message& m : conversation.messages)
      if (m.content.find(token) != std::string::npos) {
        detail::required_token(tokenizer, token, "a message that uses it");
        break;
      }

  std::size_t total = 0;
  for (const std::size_t n : image_token_counts) total += n;
  out.input_ids.reserve(total + 64);
  out.input_ids.push_back(bos);
  std::size_t image = 0;
  for (const Message& m : conversation.messages) {
    switch (m.role) {
      case Role::system:
        detail::append(out.input_ids, tokenizer.encode(detail::strip(m.content), false));
        break;
      case Role::user:
        detail::vl2_append_with_images(tokenizer, detail::vl2_user_text(m.content), image_token_counts, image, out);
        break;
      case Role::assistant:
        detail::append(out.input_ids, tokenizer.encode(detail::strip(m.content), false));
        out.input_ids.push_back(eos);
        break;
    }
  }
  if (inference_mode) out.input_ids.pop_back();  // the last message's EOS
  return out;
}

inline EncodedPrompt encode_raw_prompt(const io::Tokenizer& tokenizer, std::string_view text,
                                       std::span<const std::size_t> image_token_counts) {
  std::size_t tags = 0;
  for (std::size_t p = text.find(kImageTag); p != std::string_view::npos; p = text.find(kImageTag, p + 1)) ++tags;
  if (tags != image_token_counts.size())
    fail(detail::kWhere, detail::images_mismatch(tags, kImageTag, image_token_counts.size()));
  EncodedPrompt out;
  out.image_token_id = detail::required_token(tokenizer, kImageTag, "each image of a DeepSeek-VL2 prompt");
  out.input_ids.push_back(detail::bos_of(tokenizer));
  std::size_t image = 0;
  detail::vl2_append_with_images(tokenizer, text, image_token_counts, image, out);
  return out;
}

inline std::vector<std::int32_t> stop_token_ids(const io::Tokenizer& tokenizer) {
  return {detail::eos_of(tokenizer)};
}

}  // namespace deepseek_vl2

}  // namespace dsvl::language
