// Fuzz target for the chat formats and the request's prompt preparation (no model needed): a
// conversation or a raw prompt, with a number of images, formatted as DeepSeek-VL and DeepSeek-VL2
// prompts by models::detail::prepared_conversation / prepared_raw_prompt and
// language::deepseek_vl{,2}::render_prompt / encode_prompt / encode_raw_prompt, with the small
// tokenizer of tests/data/tokenizer/tiny-deepseek-llm plus the image and grounding tokens it lacks.
//
// Input: byte 0 holds the switches (bit 0: Request::grounding, bit 1: Request::generation_prompt,
// bit 2: a raw prompt, bits 3-5: the number of images); the rest is the raw prompt, or messages
// separated by NUL bytes, each its role name, a newline and its content.
//
// Anything wrong must be a dsvl::Error. An encoded prompt starts with BOS; its image spans are one
// per image, in order, disjoint, inside the ids, of the requested lengths, and hold every image id
// of the prompt. A DeepSeek-VL2 conversation that renders encodes (this tokenizer has every token
// the format needs) unless the image count differs from the tag count or a text is not UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/io/json.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/io/utf8.hpp"
#include "dsvl/language/chat_format.hpp"
#include "dsvl/models/request.hpp"

namespace {

namespace lang = dsvl::language;
namespace models = dsvl::models;

const dsvl::io::Tokenizer* tokenizer = nullptr;
std::int32_t bos = 0;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "chat_prompt_fuzz: %s\n", what);
  std::abort();
}

void check_prompt(const lang::EncodedPrompt& p, const std::vector<std::size_t>& lengths) {
  check(!p.input_ids.empty() && p.input_ids[0] == bos, "the ids do not start with BOS");
  check(p.images.size() == lengths.size(), "not one image span per image");
  std::size_t next = 1, in_spans = 0;
  for (std::size_t i = 0; i < p.images.size(); ++i) {
    const lang::ImageSpan s = p.images[i];
    check(s.length == lengths[i], "an image span of the wrong length");
    check(s.offset >= next && s.offset + s.length <= p.input_ids.size(), "an image span out of order or outside");
    for (std::size_t k = s.offset; k < s.offset + s.length; ++k)
      check(p.input_ids[k] == p.image_token_id, "an image span holds another id");
    next = s.offset + s.length;
    in_spans += s.length;
  }
  std::size_t image_ids = 0;
  for (const std::int32_t id : p.input_ids) image_ids += id == p.image_token_id;
  check(image_ids == in_spans, "an image id outside the image spans");
}

// Each call's dsvl::Error is an accepted answer; returns whether it succeeded.
template <class F>
bool accepted(F&& f) {
  try {
    f();
    return true;
  } catch (const dsvl::Error&) {
    return false;
  }
}

bool valid_utf8(const lang::Conversation& c) {
  for (const lang::Message& m : c.messages)
    if (dsvl::io::utf8::first_invalid(m.content) != m.content.size()) return false;
  return true;
}

std::size_t count_tags(const lang::Conversation& c, std::string_view tag) {
  std::size_t n = 0;
  for (const lang::Message& m : c.messages)
    if (m.role == lang::Role::user)
      for (std::size_t p = m.content.find(tag); p != std::string::npos; p = m.content.find(tag, p + tag.size())) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  nlohmann::json j = dsvl::io::read_json(DSVL_FUZZ_TOKENIZER);
  std::int32_t id = 0;
  for (const auto& t : j["added_tokens"]) id = std::max(id, t["id"].get<std::int32_t>());
  for (const char* token : {"<image_placeholder>", "<|grounding|>"})
    j["added_tokens"].push_back({{"id", ++id}, {"content", token}, {"single_word", false}, {"lstrip", false},
                                 {"rstrip", false}, {"normalized", false}, {"special", true}});
  static const dsvl::io::Tokenizer tok = dsvl::io::Tokenizer::from_json(j, nullptr, DSVL_FUZZ_TOKENIZER);
  tokenizer = &tok;
  bos = *tok.token_to_id(lang::kBosToken);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  models::Request r;
  r.grounding = data[0] & 1;
  r.generation_prompt = data[0] & 2;
  r.images.resize((data[0] >> 3) & 7);
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 4) {
    r.raw_prompt = rest;
  } else {
    for (std::size_t start = 0; start <= rest.size();) {
      const std::size_t end = std::min(rest.find('\0', start), rest.size());
      const std::string_view m = rest.substr(start, end - start);
      const std::size_t nl = std::min(m.find('\n'), m.size());
      std::optional<lang::Role> role;
      if (!accepted([&] { role = lang::parse_role(m.substr(0, nl)); })) return 0;
      r.conversation.add(*role, std::string(m.substr(std::min(nl + 1, m.size()))));
      start = end + 1;
    }
  }
  const std::size_t images = r.images.size();
  const std::vector<std::size_t> v1_lengths(images, 3);
  std::vector<std::size_t> v2_lengths;
  for (std::size_t i = 0; i < images; ++i) v2_lengths.push_back(i + 1);

  if (!r.raw_prompt.empty()) {
    const std::string v1 = models::detail::prepared_raw_prompt(r, lang::deepseek_vl::kImageTag, "");
    accepted([&] { check_prompt(lang::deepseek_vl::encode_raw_prompt(*tokenizer, v1, images, 3), v1_lengths); });
    const std::string v2 = models::detail::prepared_raw_prompt(r, lang::deepseek_vl2::kImageTag, "\n");
    accepted([&] { check_prompt(lang::deepseek_vl2::encode_raw_prompt(*tokenizer, v2, v2_lengths), v2_lengths); });
    return 0;
  }

  const lang::Conversation v1 = models::detail::prepared_conversation(r, lang::deepseek_vl::kImageTag, "");
  if (accepted([&] { (void)lang::deepseek_vl::render_prompt(v1); }))
    accepted([&] { check_prompt(lang::deepseek_vl::encode_prompt(*tokenizer, v1, images, 3), v1_lengths); });

  const lang::Conversation v2 = models::detail::prepared_conversation(r, lang::deepseek_vl2::kImageTag, "\n");
  const bool inference = r.generation_prompt;
  const bool renders = accepted([&] { (void)lang::deepseek_vl2::render_prompt(v2, inference); });
  const bool encodes = accepted([&] {
    check_prompt(lang::deepseek_vl2::encode_prompt(*tokenizer, v2, v2_lengths, inference), v2_lengths);
  });
  if (renders && count_tags(v2, lang::deepseek_vl2::kImageTag) == images && valid_utf8(v2))
    check(encodes, "a DeepSeek-VL2 conversation renders but does not encode");
  check(renders || !encodes, "a DeepSeek-VL2 conversation encodes but does not render");
  return 0;
}
