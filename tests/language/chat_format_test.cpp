#include "dsvl/language/chat_format.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dsvl/io/json.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/vision/tile_layout.hpp"
#include "shared_data.hpp"

// Fixtures: tests/data/chat/*.json, written by tools/reference/chat_formats.py from the official
// DeepSeek-VL and DeepSeek-VL2 processors. The rendering checks need no tokenizer; the id checks
// use the shared tokenizer files and are skipped when those are absent.

namespace {

namespace fs = std::filesystem;
namespace lang = dsvl::language;
using nlohmann::json;

json fixture(const std::string& name) {
  return dsvl::io::read_json(fs::path(DSVL_TEST_DATA_DIR) / "chat" / (name + ".json"));
}

// The shared tokenizer of `name`, loaded once; null (with a message) when the file is absent.
const dsvl::io::Tokenizer* tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<dsvl::io::Tokenizer>> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    const fs::path p = dsvl::test::shared_data("tokenizers/" + name + "/tokenizer.json");
    it = cache
             .emplace(name, p.empty()
                                ? nullptr
                                : std::make_unique<dsvl::io::Tokenizer>(dsvl::io::Tokenizer::from_file(p)))
             .first;
  }
  if (!it->second)
    MESSAGE("skipped: tokenizers/" << name << "/tokenizer.json is not in the shared data folder");
  return it->second.get();
}

lang::Conversation conversation_of(const json& messages) {
  lang::Conversation c;
  for (const json& m : messages)
    c.add(lang::parse_role(m.at("role").get<std::string>()), m.at("content").get<std::string>());
  return c;
}

std::vector<std::int32_t> ids_of(const json& j) { return j.get<std::vector<std::int32_t>>(); }

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const dsvl::Error& e) {
    return e.what();
  }
  return "(no error)";
}

void check_spans(const lang::EncodedPrompt& p, const json& images) {
  REQUIRE(p.images.size() == images.size());
  for (std::size_t i = 0; i < p.images.size(); ++i) {
    const lang::ImageSpan s = p.images[i];
    CHECK(s.length == images[i].at("num_image_tokens").get<std::size_t>());
    REQUIRE(s.offset + s.length <= p.input_ids.size());
    const auto run = std::span(p.input_ids).subspan(s.offset, s.length);
    CHECK(std::ranges::all_of(run, [&](std::int32_t id) { return id == p.image_token_id; }));
  }
}

// DeepSeek-VL: a case whose system prompt is not the processor's default puts it in a system message.
lang::Conversation v1_conversation(const json& doc, const json& c) {
  lang::Conversation conv = conversation_of(c.at("messages"));
  const auto system = c.at("system_prompt").get<std::string>();
  if (system != doc.at("system_prompt").get<std::string>())
    conv.messages.insert(conv.messages.begin(), {lang::Role::system, system});
  return conv;
}

std::vector<std::size_t> vl2_counts(const json& c) {
  std::vector<std::size_t> counts;
  for (const json& im : c.at("images"))
    counts.push_back(static_cast<std::size_t>(dsvl::vision::image_token_count(14, im.at("width_tiles").get<std::int64_t>(),
                                                                        im.at("height_tiles").get<std::int64_t>())));
  return counts;
}

}  // namespace

TEST_CASE("chat_format: the Python-style strip") {
  using lang::detail::strip;
  CHECK(strip("") == "");
  CHECK(strip(" \t\n\r\v\f") == "");
  CHECK(strip("  a b  ") == "a b");
  CHECK(strip("\u3000\u00A0\u2003x\u2028\u0085\u001F") == "x");
  // Not white space for Python: ZERO WIDTH SPACE, MONGOLIAN VOWEL SEPARATOR, ideographic comma.
  CHECK(strip("\u200Bx\u180E") == "\u200Bx\u180E");
  CHECK(strip("\u3001x") == "\u3001x");
  CHECK(strip(" \xFFx\xC3 ") == "\xFFx\xC3");  // bytes that are not UTF-8 are kept
  CHECK(strip(" 你好 ") == "你好");
}

TEST_CASE("chat_format: parse_role accepts the official spellings") {
  CHECK(lang::parse_role("system") == lang::Role::system);
  CHECK(lang::parse_role("deepseekapi-sys") == lang::Role::system);
  for (const char* r : {"user", "User", "<|User|>"}) CHECK(lang::parse_role(r) == lang::Role::user);
  for (const char* r : {"assistant", "Assistant", "<|Assistant|>"})
    CHECK(lang::parse_role(r) == lang::Role::assistant);
  CHECK(error_of([] { lang::parse_role("USER"); }).starts_with("chat_format: unknown role 'USER'"));
  CHECK(error_of([] { lang::parse_role("<｜User｜>"); }).find("unknown role") != std::string::npos);
}

TEST_CASE("chat_format: DeepSeek-VL renders and encodes as the official processor") {
  const json doc = fixture("deepseek-vl-v1");
  CHECK(doc.at("reference") == "official processor");
  CHECK(doc.at("system_prompt").get<std::string>() == lang::deepseek_vl::kSystemPrompt);
  CHECK(doc.at("image_tag").get<std::string>() == lang::deepseek_vl::kImageTag);
  const auto* tok = tokenizer("deepseek-vl-v1");
  for (const json& c : doc.at("cases")) {
    CAPTURE(c.at("name").get<std::string>());
    const lang::Conversation conv = v1_conversation(doc, c);
    const std::string text = lang::deepseek_vl::render_prompt(conv);
    CHECK(text == c.at("sft_format").get<std::string>());
    CHECK(text == c.at("prompt").get<std::string>());
    if (!tok) continue;
    const auto p = lang::deepseek_vl::encode_prompt(*tok, conv, c.at("images").size());
    CHECK(p.image_token_id == doc.at("image_token_id").get<std::int32_t>());
    CHECK(p.input_ids == ids_of(c.at("input_ids")));
    check_spans(p, c.at("images"));
  }
  if (tok)
    CHECK(lang::deepseek_vl::stop_token_ids(*tok) ==
          std::vector<std::int32_t>{doc.at("eos_id").get<std::int32_t>()});
}

TEST_CASE("chat_format: DeepSeek-VL2 renders and encodes as the official processor") {
  for (const std::string name : {"deepseek-vl2", "deepseek-vl2-small"}) {
    CAPTURE(name);
    const json doc = fixture(name);
    CHECK(doc.at("reference") == "official processor");
    CHECK(doc.at("image_tag").get<std::string>() == lang::deepseek_vl2::kImageTag);
    const auto* tok = tokenizer(name);
    for (const json& c : doc.at("cases")) {
      CAPTURE(c.at("name").get<std::string>());
      const lang::Conversation conv = conversation_of(c.at("messages"));
      const bool inference = c.at("inference_mode").get<bool>();
      CHECK(lang::deepseek_vl2::render_prompt(conv, inference) == c.at("prompt").get<std::string>());
      const std::vector<std::size_t> counts = vl2_counts(c);
      for (std::size_t i = 0; i < counts.size(); ++i)
        CHECK(counts[i] == c.at("images")[i].at("num_image_tokens").get<std::size_t>());
      if (!c.at("cropping").get<bool>())
        for (const json& im : c.at("images")) CHECK(im.at("num_image_tokens") == 421);
      if (!tok) continue;
      const auto p = lang::deepseek_vl2::encode_prompt(*tok, conv, counts, inference);
      CHECK(p.image_token_id == doc.at("image_token_id").get<std::int32_t>());
      CHECK(p.input_ids == ids_of(c.at("input_ids")));
      check_spans(p, c.at("images"));
    }
    if (tok)
      CHECK(lang::deepseek_vl2::stop_token_ids(*tok) ==
            std::vector<std::int32_t>{doc.at("eos_id").get<std::int32_t>()});
  }
}

TEST_CASE("chat_format: DeepSeek-VL errors") {
  lang::Conversation late_system;
  late_system.user("hi").system("be brief").assistant();
  CHECK(error_of([&] { lang::deepseek_vl::render_prompt(late_system); }) ==
        "chat_format: message 1 is a system message; a system message may only come first");

  lang::Conversation bad_role;
  bad_role.add(static_cast<lang::Role>(7), "x");
  CHECK(error_of([&] { lang::deepseek_vl::render_prompt(bad_role); }) == "chat_format: unknown role 7");

  const auto* tok = tokenizer("deepseek-vl-v1");
  if (!tok) return;
  lang::Conversation two;
  two.user("<image_placeholder> and <image_placeholder>?").assistant();
  CHECK(error_of([&] { lang::deepseek_vl::encode_prompt(*tok, two, 1); }) ==
        "chat_format: the conversation has 2 image tags ('<image_placeholder>') but 1 image was given");
  CHECK(error_of([&] { lang::deepseek_vl::encode_prompt(*tok, two, 3); }).find("but 3 images were given") !=
        std::string::npos);
  // An image tag of the other family is plain text here.
  lang::Conversation vl2_tag;
  vl2_tag.user("<image>What is this?").assistant();
  CHECK(error_of([&] { lang::deepseek_vl::encode_prompt(*tok, vl2_tag, 1); }).find("has 0 image tags") !=
        std::string::npos);

  // The count of image tokens is a parameter.
  lang::Conversation one;
  one.user("<image_placeholder>Hi").assistant();
  const auto p = lang::deepseek_vl::encode_prompt(*tok, one, 1, 3);
  REQUIRE(p.images.size() == 1);
  CHECK(p.images[0].length == 3);
  CHECK(p.input_ids.size() == lang::deepseek_vl::encode_prompt(*tok, one, 1).input_ids.size() - 573);

  if (const auto* vl2 = tokenizer("deepseek-vl2"))
    CHECK(error_of([&] { lang::deepseek_vl::encode_prompt(*vl2, one, 1); }) ==
          "chat_format: the tokenizer has no token '<image_placeholder>', which each image of a DeepSeek-VL "
          "prompt "
          "needs");
}

TEST_CASE("chat_format: DeepSeek-VL2 errors") {
  namespace v2 = lang::deepseek_vl2;
  lang::Conversation late_system;
  late_system.user("hi").system("be brief").assistant();
  CHECK(error_of([&] { v2::render_prompt(late_system); }) ==
        "chat_format: message 1 is a system message; a system message may only come first");

  lang::Conversation no_slot;
  no_slot.user("hi");
  CHECK(error_of([&] { v2::render_prompt(no_slot); }).find("the last message must be an assistant message") !=
        std::string::npos);
  CHECK(v2::render_prompt(no_slot, false) == "<|User|>: hi\n\n<|Assistant|>:");
  CHECK(error_of([&] { v2::render_prompt(lang::Conversation{}); }).find("last message") != std::string::npos);

  lang::Conversation image_in_answer;
  image_in_answer.user("hi").assistant("see <image>");
  CHECK(
      error_of([&] { v2::render_prompt(image_in_answer, false); }) ==
      "chat_format: message 1 is an assistant message with an image tag ('<image>'); only user messages may "
      "hold images");

  lang::Conversation bad_role;
  bad_role.add(static_cast<lang::Role>(-1), "x").assistant();
  CHECK(error_of([&] { v2::render_prompt(bad_role); }) == "chat_format: unknown role -1");

  for (const std::string name : {"deepseek-vl2", "deepseek-vl2-small"}) {
    CAPTURE(name);
    const auto* tok = tokenizer(name);
    if (!tok) continue;
    lang::Conversation two;
    two.user("<image>").assistant("A.").user("<image>?").assistant();
    CHECK(error_of([&] { v2::encode_prompt(*tok, two, {421}); }) ==
          "chat_format: the conversation has 2 image tags ('<image>') but 1 image was given");
    CHECK(error_of([&] {
            v2::encode_prompt(*tok, two, {421, 421, 421});
          }).find("but 3 images were given") != std::string::npos);
    const auto p = v2::encode_prompt(*tok, two, {617, 421});
    REQUIRE(p.images.size() == 2);
    CHECK(p.images[0].offset == 4);  // BOS, <|User|>, ":", " "
    CHECK(p.images[0].length == 617);
    CHECK(p.images[1].length == 421);
  }

  // A tokenizer without the DeepSeek-VL2 tokens.
  if (const auto* v1 = tokenizer("deepseek-vl-v1")) {
    lang::Conversation c;
    c.user("<image>Hi").assistant();
    CHECK(
        error_of([&] { v2::encode_prompt(*v1, c, {421}); }) ==
        "chat_format: the tokenizer has no token '<image>', which each image of a DeepSeek-VL2 prompt needs");
  }
}

TEST_CASE("chat_format: DeepSeek-VL2 inference mode drops only the final EOS") {
  const auto* tok = tokenizer("deepseek-vl2");
  if (!tok) return;
  namespace v2 = lang::deepseek_vl2;
  lang::Conversation c;
  c.user("Hi").assistant("Hello.");
  const auto train = v2::encode_prompt(*tok, c, {}, false);
  const auto infer = v2::encode_prompt(*tok, c, {}, true);
  CHECK(train.input_ids.back() == 1);
  CHECK(infer.input_ids == std::vector<std::int32_t>(train.input_ids.begin(), train.input_ids.end() - 1));
  CHECK(v2::render_prompt(c, false) == v2::render_prompt(c, true) + std::string(lang::kEosToken));
}
