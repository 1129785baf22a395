// An engine built against the installed package: it opens each test model directory through the
// model shell (dsvl::models::open_model), without naming a generation or a policy, runs the
// parity fixtures' requests with their images, and checks the input ids and the greedy tokens
// against what the official code computed (tests/data/*/README.md).
//
//   engine TESTS_DATA_DIR
#include <dsvl/models/model.hpp>

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
  } catch (const std::exception& e) {
    std::fprintf(stderr, "engine: %s\n", e.what());
    return 1;
  }
  if (failures > 0) std::fprintf(stderr, "engine: %d mismatches\n", failures);
  return failures == 0 ? 0 : 1;
}
