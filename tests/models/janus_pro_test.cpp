// Janus-Pro understanding: the published configs and the presets, the registry's choice between
// Janus-Pro and DeepSeek-VL, and end to end against the official code (tests/data/janus_pro,
// written by tools/reference/janus_pro.py): from the image files and the conversation to the ids,
// the pixels, SigLIP's intermediates, the aligner, inputs_embeds, every decoder layer at the last
// positions, logits and 16 greedy tokens, in every f32 CPU policy, and through the model shell.
//
// Tolerances. Ids and pixels: exact (the pixels are those of uint8 images, whose row and column
// sums must match). Floats: within 1e-4 of the tensor's largest magnitude, as for DeepSeek-VL (the
// same math as PyTorch's in another order of additions). Greedy tokens: identical (the fixture's
// top-1 margins are above 0.4).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/core/trace.hpp"
#include "dsvl/language/chat_format.hpp"
#include "dsvl/language/generate.hpp"
#include "dsvl/models/deepseek_vl.hpp"
#include "dsvl/models/deepseek_vl_config.hpp"
#include "dsvl/models/deepseek_vl_entry.hpp"
#include "dsvl/models/deepseek_vl_processor.hpp"
#include "dsvl/models/janus_pro_entry.hpp"
#include "dsvl/models/model.hpp"
#include "dsvl/models/registry.hpp"
#include "dsvl/policy/policy.hpp"
#include "reference_fixture.hpp"

using namespace dsvl;
using dsvl::test::ReferenceFile;
using dsvl::test::want_f32;
using dsvl::test::rows_at;
using dsvl::test::as_i32;
using dsvl::test::relative_error;
using models::DeepSeekVL;
using models::DeepSeekVLConfig;

namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(DSVL_TEST_DATA_DIR) / "janus_pro" / "tiny-janus-pro";
const fs::path kImages = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl";
constexpr double kRelTol = 1e-4;

// deepseek-ai/Janus-Pro-1B's and -7B's config.json. The 7B's language_config leaves
// hidden_size, intermediate_size and the heads to LlamaConfig's defaults.
std::string published_config(bool seven) {
  const std::string D = seven ? "4096" : "2048";
  const std::string language =
      seven ? R"({"max_position_embeddings": 16384, "model_type": "llama", "num_hidden_layers": 30,
                  "torch_dtype": "bfloat16", "vocab_size": 102400})"
            : R"({"hidden_size": 2048, "intermediate_size": 5632, "max_position_embeddings": 16384,
                  "model_type": "llama", "num_attention_heads": 16, "num_hidden_layers": 24,
                  "num_key_value_heads": 16, "torch_dtype": "bfloat16", "vocab_size": 102400})";
  return R"({
    "aligner_config": {"cls": "MlpProjector", "model_type": "aligner",
                       "params": {"depth": 2, "input_dim": 1024, "n_embed": )" + D + R"(, "projector_type": "mlp_gelu"}},
    "architectures": ["MultiModalityCausalLM"],
    "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner",
                           "params": {"depth": 2, "input_dim": 8, "n_embed": )" + D + R"(, "projector_type": "mlp_gelu"}},
    "gen_head_config": {"cls": "vision_head", "model_type": "gen_head",
                        "params": {"image_token_embed": )" + D + R"(, "image_token_size": 16384, "n_embed": )" + D + R"(}},
    "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision", "params": {"image_token_size": 16384, "n_embed": 8}},
    "language_config": )" + language + R"(,
    "model_type": "multi_modality", "torch_dtype": "bfloat16", "transformers_version": "4.33.1",
    "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision",
                      "params": {"image_size": 384, "model_name": "siglip_large_patch16_384", "select_feature": "same",
                                 "select_layer": -1}}})";
}

template <class R = models::Registry>
std::string generation_of(const fs::path& dir) {
  return models::with_entry<R>(dir, [](auto entry) { return std::string(decltype(entry)::name); });
}

struct Case {
  const char* name;
  std::vector<const char*> images;
  language::Conversation conversation;
};

std::vector<Case> cases() {
  using language::Conversation;
  return {{"one_image", {"image.png"}, Conversation{}.user("<image_placeholder>\nDescribe this image.").assistant()},
          {"two_images",
           {"image2.png", "image.png"},
           Conversation{}
               .system("")
               .user("Hello!")
               .assistant("Hi! How can I help?")
               .user("Compare <image_placeholder> with <image_placeholder>\nWhich is brighter?")
               .assistant()}};
}

models::Request request_of(const Case& c) {
  models::Request r;
  r.conversation = c.conversation;
  for (const char* image : c.images) r.images.push_back(models::RequestImage::from_file(kImages / image));
  return r;
}

Tensor<float, 2> copy2(View<const float, 2> x) {
  Tensor<float, 2> out({x.shape(0), x.shape(1)});
  for (std::int64_t r = 0; r < x.shape(0); ++r) std::copy_n(x.data() + r * x.stride(0), x.shape(1), out.data() + r * x.shape(1));
  return out;
}

// Checks `got` against the fixture's tensor `name` and keeps the largest error of each kind of
// tensor (the name without its case and layer number) in `worst`.
void check_close(const ReferenceFile& ref, const std::string& c, const std::string& name, const Tensor<float, 2>& got,
                 std::map<std::string, double>& worst) {
  const Tensor<float, 2> want = want_f32(ref, c + "." + name);
  REQUIRE(got.shape() == want.shape());
  const double e = relative_error(got.view(), want.view());
  INFO(c << "." << name << ": relative error " << e);
  CHECK(e <= kRelTol);
  const std::string kind = name.substr(0, name.find_last_not_of("0123456789.") + 1);
  worst[kind] = std::max(worst[kind], e);
}

// Pixel values (n, 3, S, S) normalised with 0.5 / 0.5: each is exactly that of a uint8 value, and
// the row and column sums of those uint8 images equal the fixture's.
void check_pixels(const ReferenceFile& ref, const std::string& name, View<const float, 4> px) {
  const std::int64_t n = px.shape(0), S = px.shape(2);
  std::vector<std::int64_t> rows(static_cast<std::size_t>(n * 3 * S)), cols(rows.size());
  bool exact = true;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < S; ++y)
        for (std::int64_t x = 0; x < S; ++x) {
          const float p = px(i, c, y, x);
          const auto u = std::lround((static_cast<double>(p) * 0.5 + 0.5) * 255.0);
          exact = exact && p == (static_cast<float>(static_cast<double>(u) * (1.0 / 255.0)) - 0.5f) / 0.5f;
          rows[static_cast<std::size_t>((i * 3 + c) * S + y)] += u;
          cols[static_cast<std::size_t>((i * 3 + c) * S + x)] += u;
        }
  CHECK_MESSAGE(exact, name, ": a pixel value is not that of a uint8 value");
  CHECK_MESSAGE(rows == ref.i64(name + ".row_sums"), name, " row sums");
  CHECK_MESSAGE(cols == ref.i64(name + ".col_sums"), name, " column sums");
}

}  // namespace

TEST_CASE("Janus-Pro: the published config.json files are the presets") {
  for (const bool seven : {false, true}) {
    CAPTURE(seven);
    const auto j = nlohmann::json::parse(published_config(seven));
    const DeepSeekVLConfig preset = seven ? models::kJanusPro7B : models::kJanusPro1B;
    const DeepSeekVLConfig c = models::parse_deepseek_vl_config(j, "config.json");
    CHECK(models::differences(c, preset).empty());
    CHECK(c == preset);
    CHECK(c.image_generation);
    CHECK(c.siglip_norm.is_identity());  // the processor normalises
    CHECK(c.num_image_tokens() == 576);
    CHECK_NOTHROW(models::check_config(preset, "preset"));
    CHECK(models::JanusProEntry::recognises(j));
    // What to_config_json writes reads back as the preset and is Janus-Pro's.
    const auto written = models::to_config_json(preset);
    CHECK(models::parse_deepseek_vl_config(written, "written") == preset);
    CHECK(models::JanusProEntry::recognises(written));
  }
  // The understanding model is DeepSeek-VL 1.3B's but for the normalisation's place, and the 7B's
  // decoder is DeepSeek-VL 7B's.
  const auto diff = models::differences(models::kJanusPro1B, models::kDeepSeekVL1_3B);
  REQUIRE(diff.size() == 3);
  CHECK(diff[0].starts_with("siglip_norm.pixel_mean:"));
  CHECK(diff[1].starts_with("siglip_norm.pixel_std:"));
  CHECK(diff[2] == "image_generation: true vs false");
  CHECK(models::kJanusPro7B.language == models::kDeepSeekVL7B.language);
  CHECK_FALSE(models::JanusProEntry::recognises(models::to_config_json(models::kDeepSeekVL1_3B)));
  CHECK(models::DeepSeekVLEntry::recognises(models::to_config_json(models::kDeepSeekVL1_3B)));

  // The preset model declares the understanding weights by their official names; the image-generation
  // parts are declared unused, so nothing of them is loaded or counted.
  DeepSeekVL<policies::ScalarBF16, models::kJanusPro7B> seven;
  nn::WeightNames names;
  seven.visit(names);
  std::set<std::string> declared;
  for (const auto& e : names.entries) declared.insert(e.name);
  for (const char* n : {"vision_model.vision_tower.blocks.23.mlp.fc2.weight", "vision_model.vision_tower.norm.bias",
                        "aligner.layers.0.weight", "aligner.layers.2.bias",
                        "language_model.model.layers.29.mlp.down_proj.weight", "language_model.lm_head.weight"})
    CHECK_MESSAGE(declared.count(n) == 1, n);
  CHECK(std::none_of(declared.begin(), declared.end(), [](const std::string& n) { return n.starts_with("gen_"); }));
}

TEST_CASE("Janus-Pro: the registry tells Janus-Pro directories from DeepSeek-VL ones") {
  CHECK(generation_of(kDir) == "Janus-Pro");
  CHECK(generation_of(fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl" / "tiny-siglip") == "DeepSeek-VL");
  CHECK(generation_of(fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl" / "tiny-hybrid") == "DeepSeek-VL");
  // A registry without Janus-Pro still finds DeepSeek-VL by the model_type alone.
  CHECK(generation_of<std::tuple<models::DeepSeekVLEntry>>(fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl" / "tiny-siglip") ==
        "DeepSeek-VL");
  // The fixture's checkpoint holds the image-generation parts, which only a Janus-Pro config lets load.
  const auto config = models::read_deepseek_vl_config(kDir);
  CHECK(config.image_generation);
  CHECK_NOTHROW(DeepSeekVL<policies::ScalarF32>::from_directory(kDir));
  DeepSeekVLConfig without = config;
  without.image_generation = false;
  DeepSeekVL<policies::ScalarF32> strict(without);
  CHECK_THROWS_WITH(strict.load(io::Checkpoint::open(kDir)), doctest::Contains("unexpected tensor 'gen_head."));
}

TEST_CASE_TEMPLATE("Janus-Pro matches the official code end to end", P, policies::ScalarF32, policies::XsimdF32,
                   policies::HwyF32) {
#if !DSVL_WITH_IMAGE
  MESSAGE("skipped: built without dsvl::image (no PNG reader)");
  return;
#endif
  ThreadPool pool(2);
  const ReferenceFile ref(kDir / "reference.safetensors");
  const auto model = DeepSeekVL<P>::from_directory(kDir);
  // The fixture's Pillow 10.2 runs the horizontal resampling pass first.
  const auto processor = models::DeepSeekVLProcessor::from_directory(kDir, model.config(), vision::PillowVersion::before_12_2,
                                                                     language::deepseek_vl::kJanusPro);
  std::map<std::string, double> worst;
  for (const Case& c : cases()) {
    CAPTURE(c.name);
    const std::string pre = std::string(c.name) + ".";
    const models::ModelInputs in = processor(request_of(c), pool);
    CHECK(in.input_ids == as_i32(ref.i64(pre + "input_ids")));
    REQUIRE(in.image_spans.size() == c.images.size());
    check_pixels(ref, pre + "pixel_values", View<const float, 4>(in.pixel_values.view()));

    if (ref.contains(pre + "vision.siglip.norm")) {
      std::map<std::string, Tensor<float, 2>> trace;
      const auto tracer = [&](std::string_view name, std::int64_t i, View<const float, 3> x) {
        trace["vision.siglip." + std::string(name) + (i >= 0 ? "." + std::to_string(i) : "")] = copy2(x[0]);
      };
      const auto& tower = *model.siglip_tower();
      Tensor<float, 2> features({model.num_image_tokens(), tower.width()});
      tower.forward(View<const float, 4>(in.pixel_values.view())[0], features.view(), pool, tracer);
      REQUIRE(trace.size() == 5);
      for (const auto& [name, x] : trace) check_close(ref, c.name, name, x, worst);
    }
    const Tensor<float, 2> image = model.encode_images(in, pool);
    check_close(ref, c.name, "image_embeds", image, worst);
    const Tensor<float, 2> x = model.embed(in, image.view());
    if (ref.contains(pre + "inputs_embeds")) check_close(ref, c.name, "inputs_embeds", x, worst);

    const auto& lm = model.language_model();
    const auto positions = ref.i64(pre + "logits_positions");
    std::map<std::string, Tensor<float, 2>> hidden;
    const auto tracer = [&](std::string_view name, std::int64_t layer, View<const float, 2> h) {
      hidden[name == "layer" ? "language.layer." + std::to_string(layer) : "language.norm"] = rows_at(h, positions);
    };
    const std::int64_t T = x.shape(0);
    auto cache = lm.make_cache(T + 16);
    const auto logits = lm.forward(x.view(), cache, language::LogitRows::all, pool, tracer);
    for (const auto& [name, h] : hidden)
      if (ref.contains(pre + name)) check_close(ref, c.name, name, h, worst);
    check_close(ref, c.name, "logits", rows_at(logits.view(), positions), worst);

    auto gen_cache = lm.make_cache(T + 16);
    std::vector<std::int32_t> history = in.input_ids;
    language::Sampler greedy{language::SamplingConfig{}};
    const auto tokens =
        language::generate(lm, x.view(), gen_cache, history, language::GenerationOptions{16, {}}, greedy, {}, pool).tokens;
    CHECK(tokens == as_i32(ref.i64(pre + "greedy_ids")));
  }
  for (const auto& [kind, e] : worst) MESSAGE("largest relative error of ", kind, ": ", e);
}

TEST_CASE("Janus-Pro through the model shell") {
#if !DSVL_WITH_IMAGE
  MESSAGE("skipped: built without dsvl::image (no PNG reader)");
  return;
#endif
  const ReferenceFile ref(kDir / "reference.safetensors");
  models::ModelOptions options;
  options.pillow = vision::PillowVersion::before_12_2;
  const auto model = models::open_model(kDir, options);
  CHECK(model.generation() == "Janus-Pro");
  for (const Case& c : cases()) {
    CAPTURE(c.name);
    const std::string pre = std::string(c.name) + ".";
    const auto prompt = model.encode(request_of(c));
    CHECK(prompt.inputs.input_ids == as_i32(ref.i64(pre + "input_ids")));
    std::vector<std::int32_t> tokens;
    model.generate(prompt, {.max_new_tokens = 16, .stop_at_eos = false}, [&](std::int32_t id) {
      tokens.push_back(id);
      return true;
    });
    CHECK(tokens == as_i32(ref.i64(pre + "greedy_ids")));
  }
  // The request convenience: images without tags get "<image_placeholder>\n" each, as the official
  // examples write them.
  const auto tagged = model.process(models::Request::ask("Describe this image.", {models::RequestImage::from_file(kImages / "image.png")}));
  CHECK(tagged.input_ids == as_i32(ref.i64("one_image.input_ids")));
  models::Request grounded = models::Request::ask("Where is the sun?");
  grounded.grounding = true;
  CHECK_THROWS_WITH(model.process(grounded), doctest::Contains("Janus-Pro has no grounding tokens"));
}
