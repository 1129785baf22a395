// An engine built against the installed package: it opens each test model directory through the
// model shell (dsvl::models::open_model), without naming a generation or a policy, runs the
// parity fixtures' requests with their images, and checks the input ids and the greedy tokens
// against what the official code computed (tests/data/*/README.md); and a two-turn chat whose
// second turn runs only the tokens its KV cache does not hold.
//
//   engine TESTS_DATA_DIR
#include <dsvl/models/model.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using dsvl::models::Request;
using dsvl::models::RequestImage;

// An I64 tensor of a reference.safetensors file (8-byte header length, JSON header, data).
std::vector<std::int64_t> read_i64(const fs::path& file, const std::string& name) {
  std::ifstream in(file, std::ios::binary);
  std::uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  const auto t = nlohmann::json::parse(header).at(name);
  if (t.at("dtype") != "I64") throw std::runtime_error(name + " is not I64");
  const auto begin = t.at("data_offsets")[0].get<std::uint64_t>(), end = t.at("data_offsets")[1].get<std::uint64_t>();
  std::vector<std::int64_t> v((end - begin) / 8);
  in.seekg(static_cast<std::streamoff>(8 + n + begin));
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(end - begin));
  return v;
}

struct Case {
  const char* name;
  std::vector<const char*> images;
  dsvl::language::Conversation conversation;
};

int failures = 0;

void run(const fs::path& model_dir, const fs::path& image_dir, const std::vector<Case>& cases, std::int64_t tokens) {
  // The fixtures were made with Pillow 10.2, whose bicubic resize runs the horizontal pass first.
  const auto model = dsvl::models::open_model(model_dir, {.pillow = dsvl::vision::PillowVersion::before_12_2});
  for (const Case& c : cases) {
    Request r;
    r.conversation = c.conversation;
    for (const char* image : c.images) r.images.push_back(RequestImage::from_file(image_dir / image));
    const auto prompt = model.encode(r);
    const auto g = model.generate(prompt, {.max_new_tokens = tokens, .stop_at_eos = false});
    const auto ref = model_dir / "reference.safetensors";
    const auto ids = read_i64(ref, std::string(c.name) + ".input_ids");
    const auto greedy = read_i64(ref, std::string(c.name) + ".greedy_ids");
    const bool same_ids = std::vector<std::int64_t>(prompt.inputs.input_ids.begin(), prompt.inputs.input_ids.end()) == ids;
    const bool same_tokens = std::vector<std::int64_t>(g.tokens.begin(), g.tokens.end()) == greedy;
    std::printf("%s %s %s: %zu input ids %s, %zu greedy tokens %s\n", std::string(model.generation()).c_str(),
                model_dir.filename().c_str(), c.name, ids.size(), same_ids ? "equal" : "DIFFER", greedy.size(),
                same_tokens ? "equal" : "DIFFER");
    failures += !same_ids + !same_tokens;
  }
}

// Two turns of a chat: the second request repeats the first turn and the reply, and only what
// follows them runs.
void chat(const fs::path& model_dir, const fs::path& image) {
  const auto model = dsvl::models::open_model(model_dir);
  auto chat = model.chat();
  Request r = Request::ask("Describe this picture in detail.", {RequestImage::from_file(image)});
  const auto first = chat.send(r, 8);
  const auto first_run = chat.last_prompt_tokens();
  std::vector<std::int32_t> reply;  // ids past the tokenizer's vocabulary have no text
  for (const auto id : first.tokens)
    if (model.tokenizer().id_to_token(id)) reply.push_back(id);
  r.conversation.assistant(model.tokenizer().decode(reply, /*skip_special_tokens=*/true)).user("And its colours?");
  const auto whole = model.process(r).input_ids;
  chat.send(r, 8);
  const auto held = chat.tokens();
  const bool prefix = held.size() > whole.size() && std::equal(whole.begin(), whole.end(), held.begin());
  // The first turn's prompt comes from the cache (the reply too where its text encodes to the ids
  // generated; a random model's reply may not).
  const bool cached = chat.last_prompt_tokens() <= static_cast<std::int64_t>(whole.size()) - first_run;
  std::printf("chat on %s: turn 1 ran %lld tokens, turn 2 ran %lld of %zu; the chat holds the conversation: %s\n",
              model_dir.filename().c_str(), static_cast<long long>(first_run),
              static_cast<long long>(chat.last_prompt_tokens()), whole.size(), prefix ? "yes" : "NO");
  failures += !prefix + !cached;
}

// The compile-time route (the composed model and processor with the policy named) gives the
// shell's logits bit for bit.
void same_bits(const fs::path& model_dir, const fs::path& image) {
  using P = dsvl::policies::HwyF32;  // the shell's choice for an f32 checkpoint
  const auto model = dsvl::models::open_model(model_dir);
  const auto typed = dsvl::models::DeepSeekVL2<P>::from_directory(model_dir);
  const auto processor = dsvl::models::DeepSeekVL2Processor::from_directory(model_dir, typed.config());
  const Request r = Request::ask("Describe this picture in detail.", {RequestImage::from_file(image)});
  auto cache = model.make_cache(512);
  const auto shell = model.prefill(model.encode(r), cache);
  const auto inputs = processor(r);
  const auto x = typed.embed(inputs, typed.encode_images(inputs).view());
  auto typed_cache = typed.language_model().make_cache(512);
  const auto logits = typed.language_model().forward(x.view(), typed_cache, dsvl::language::LogitRows::last);
  const bool same = shell.size() == logits.size() && std::equal(shell.data(), shell.data() + shell.size(), logits.data());
  std::printf("compile-time route on %s: logits %s the shell's\n", model_dir.filename().c_str(),
              same ? "bit-identical to" : "DIFFER from");
  failures += !same;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: engine TESTS_DATA_DIR\n");
    return 2;
  }
  using dsvl::language::Conversation;
  const fs::path data = argv[1];
  try {
    const fs::path vl = data / "deepseek_vl";
    const Case one{"one_image", {"image.png"}, Conversation{}.user("<image_placeholder>Describe this image.").assistant()};
    run(vl / "tiny-siglip", vl,
        {one,
         {"image_mid_text",
          {"image2.png"},
          Conversation{}
              .system("")
              .user("Hello!")
              .assistant("Hi! How can I help?")
              .user("What is in <image_placeholder> on the left?")
              .assistant()}},
        32);
    run(vl / "tiny-hybrid", vl,
        {one,
         {"two_images",
          {"image.png", "image2.png"},
          Conversation{}
              .system("")
              .user("This is image_1: <image_placeholder>\nThis is image_2: <image_placeholder>\nWhich one is brighter?")
              .assistant()}},
        32);
    const fs::path vl2 = data / "deepseek_vl2";
    const std::vector<Case> vl2_cases = {
        {"tiles", {"image_a.png"}, Conversation{}.user("<image>\nDescribe this picture in detail.").assistant()},
        {"two",
         {"image_b.png", "image_c.png"},
         Conversation{}.user("This is image_1: <image>\nThis is image_2: <image>\n<|ref|>The red box<|/ref|>.").assistant()},
        {"three",
         {"image_a.png", "image_b.png", "image_c.png"},
         Conversation{}.user("<image><image><image>\nWhich one is the widest?").assistant()},
        {"text",
         {},
         Conversation{}.user("Hello!").assistant("Hi, how can I help?").user("<|grounding|>What is 12345 + 678?").assistant()},
    };
    for (const char* variant : {"tiny-mha", "tiny-mla", "tiny-mla-noaux"}) run(vl2 / variant, vl2, vl2_cases, 16);
    chat(vl2 / "tiny-mla", vl2 / "image_a.png");
    same_bits(vl2 / "tiny-mla", vl2 / "image_a.png");
    chat(vl / "tiny-hybrid", vl / "image.png");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine: %s\n", e.what());
    return 1;
  }
  if (failures > 0) std::fprintf(stderr, "engine: %d mismatches\n", failures);
  return failures == 0 ? 0 : 1;
}
