// DeepSeekVL end to end against the official code (tests/data/deepseek_vl, written by
// tools/reference/deepseek_vl_v1.py): from the image file and the conversation to input_ids,
// pixel values, image embeddings, logits and 32 greedy tokens, for the 1.3B-style model
// (SigLIP) and the 7B-style one (SAM + SigLIP), in every CPU policy.
//
// Tolerances. input_ids: exact. Pixel values: the processor's float32 values, compared through the
// fixture's float64 row and column sums within 1e-9 of 384 (they are equal when every pixel is).
// f32 policies: image embeddings and logits within 1e-4 of the tensor's largest magnitude (the
// same math as PyTorch's in another order of additions). bf16 policies: the f32 checkpoint is
// rounded to bf16 on load, which moves outputs by far more than 1e-4 (see sam_vit_test.cpp); they
// must match, within 1e-4, the scalar f32 policy running on the same rounded weights, which
// isolates the bf16 storage path from the rounding itself. Greedy tokens: identical for 32 steps
// (the fixture's top-1 margin is above 0.01 at every step).

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/io/safetensors.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/language/chat_format.hpp"
#include "dsvl/language/generate.hpp"
#include "dsvl/models/deepseek_vl.hpp"
#include "dsvl/models/deepseek_vl_config.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/preprocess.hpp"
#include "reference_fixture.hpp"
#if DSVL_WITH_IMAGE
#include "dsvl/io/image.hpp"
#endif

using namespace dsvl;
using dsvl::test::ReferenceFile;
using dsvl::test::as_i32;
using dsvl::test::relative_error;
using models::DeepSeekVL;
using models::DeepSeekVLConfig;

namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl";
constexpr double kRelTol = 1e-4;

bool have_fixtures() {
  if (fs::exists(kDir / "tiny-hybrid" / "reference.safetensors")) return true;
  MESSAGE("skipped: tests/data/deepseek_vl not found");
  return false;
}

// The tiny models' sizes (tests/data/deepseek_vl/README.md), as compile-time presets.
constexpr DeepSeekVLConfig kTinySiglip{DeepSeekVLConfig::Tower::siglip,
                                       vision::VitConfig{192, 16, 32, 3, 4, 4.0, -1, 1e-6, true},
                                       vision::kSiglipPixelNorm,
                                       {},
                                       {},
                                       vision::AlignerConfig{vision::AlignerConfig::Type::mlp_gelu, 2, 32, 32},
                                       language::LlamaConfig{32, 88, 3, 2, 2, 1e-6, 10000.0, 2048, 2048, false}};

struct Case {
  const char* model;
  const char* name;
  std::vector<const char*> images;
  language::Conversation conversation;
};

std::vector<Case> cases() {
  using language::Conversation;
  std::vector<Case> out;
  out.push_back({"tiny-siglip", "one_image", {"image.png"},
                 Conversation{}.user("<image_placeholder>Describe this image.").assistant()});
  out.push_back({"tiny-siglip", "image_mid_text", {"image2.png"},
                 Conversation{}
                     .system("")
                     .user("Hello!")
                     .assistant("Hi! How can I help?")
                     .user("What is in <image_placeholder> on the left?")
                     .assistant()});
  out.push_back({"tiny-hybrid", "one_image", {"image.png"},
                 Conversation{}.user("<image_placeholder>Describe this image.").assistant()});
  out.push_back({"tiny-hybrid", "two_images", {"image.png", "image2.png"},
                 Conversation{}
                     .system("")
                     .user("This is image_1: <image_placeholder>\nThis is image_2: <image_placeholder>\nWhich one is "
                           "brighter?")
                     .assistant()});
  return out;
}

// The fixture's pixel values from the image files, as VLMImageProcessor makes them (the official
// environment's Pillow 10.2 runs the horizontal resampling pass first).
Tensor<float, 4> pixel_values(const Case& c, std::int64_t S) {
  Tensor<float, 4> px({static_cast<std::int64_t>(c.images.size()), 3, S, S});
#if DSVL_WITH_IMAGE
  const auto cfg = vision::read_vlm_image_processor_config(kDir / c.model / "preprocessor_config.json");
  REQUIRE(cfg.image_size == S);
  for (std::size_t i = 0; i < c.images.size(); ++i)
    vision::vlm_preprocess(io::read_image(kDir / c.images[i]).view(), cfg, px.view()[static_cast<std::int64_t>(i)],
                           vision::PillowVersion::before_12_2);
#endif
  return px;
}

// Largest difference between the row and column sums of images px (n, 3, S, S) and the fixture's
// `<name>.row_sum` and `<name>.col_sum`.
double pixel_sum_error(const ReferenceFile& ref, const std::string& name, const Tensor<float, 4>& px) {
  const auto rows = ref.f64(name + ".row_sum"), cols = ref.f64(name + ".col_sum");
  const std::int64_t n = px.shape(0), S = px.shape(2);
  REQUIRE(rows.size() == static_cast<std::size_t>(n * 3 * S));
  double worst = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t k = 0; k < S; ++k) {
        double r = 0, q = 0;
        for (std::int64_t j = 0; j < S; ++j) {
          r += px(i, c, k, j);
          q += px(i, c, j, k);
        }
        const auto at = static_cast<std::size_t>((i * 3 + c) * S + k);
        worst = std::max({worst, std::abs(r - rows[at]), std::abs(q - cols[at])});
      }
  return worst;
}

struct Outputs {
  std::vector<std::int32_t> input_ids;
  Tensor<float, 2> image_embeds;
  Tensor<float, 2> logits;  // at the fixture's logits_positions
  std::vector<std::int32_t> greedy;
};

template <class Model>
Outputs run(const Model& model, const io::Tokenizer& tok, const Case& c, View<const float, 4> px,
            const std::vector<std::int64_t>& positions, ThreadPool& pool) {
  Outputs o;
  const auto prompt =
      language::deepseek_vl::encode_prompt(tok, c.conversation, c.images.size(),
                                           static_cast<std::size_t>(model.num_image_tokens()));
  o.input_ids = prompt.input_ids;
  o.image_embeds = model.encode_images(px, pool);
  const auto x = model.embed(o.input_ids, prompt.image_token_id, View<const float, 2>(o.image_embeds.view()));
  const auto& lm = model.language_model();
  const std::int64_t T = x.shape(0), V = lm.config().vocab_size;
  auto cache = lm.make_cache(T + 32);
  const auto all = lm.forward(View<const float, 2>(x.view()), cache, language::LogitRows::all, pool);
  o.logits = Tensor<float, 2>({static_cast<std::int64_t>(positions.size()), V});
  for (std::size_t i = 0; i < positions.size(); ++i)
    std::copy_n(all.data() + positions[i] * V, V, o.logits.data() + static_cast<std::int64_t>(i) * V);

  auto gen_cache = lm.make_cache(T + 32);
  std::vector<std::int32_t> history = o.input_ids;
  language::Sampler greedy{language::SamplingConfig{}};
  const auto g = language::generate(lm, View<const float, 2>(x.view()), gen_cache, history,
                                    language::GenerationOptions{32, {}}, greedy, {}, pool);
  o.greedy = g.tokens;
  return o;
}

// The checkpoint of `dir` as a bf16 policy holds it (matrices rounded to bf16), written to `path`.
void write_as_loaded_in_bf16(const fs::path& dir, const fs::path& path) {
  auto m = DeepSeekVL<policies::ScalarBF16>::from_directory(dir);
  io::SafeTensorsWriter w;
  nn::WeightSaver saver(w);
  m.visit(saver);
  w.write(path);
}

}  // namespace

TEST_CASE("DeepSeekVLConfig: the tiny fixtures, the presets and what fits together") {
  if (!have_fixtures()) return;
  const auto siglip = models::read_deepseek_vl_config(kDir / "tiny-siglip");
  CHECK(siglip == kTinySiglip);
  CHECK(siglip.num_image_tokens() == 144);
  CHECK(siglip.image_size() == 192);

  const auto hybrid = models::read_deepseek_vl_config(kDir / "tiny-hybrid");
  CHECK(hybrid.hybrid());
  CHECK(hybrid.image_size() == 1024);
  CHECK(hybrid.num_image_tokens() == 576);
  CHECK(hybrid.sam.width == 16);
  CHECK(hybrid.sam_norm == vision::kClipPixelNorm);
  CHECK(hybrid.siglip_norm == vision::kSiglipPixelNorm);
  CHECK(hybrid.siglip.image_size == 384);
  CHECK(hybrid.aligner.hybrid());
  CHECK(hybrid.language.intermediate_size == 86);

  // The presets: the published sizes (spec.md 1.1-1.5), consistent with themselves.
  static_assert(models::kDeepSeekVL1_3B.num_image_tokens() == 576);
  static_assert(models::kDeepSeekVL7B.num_image_tokens() == 576 && models::kDeepSeekVL7B.image_size() == 1024);
  static_assert(models::kDeepSeekVL1_3B.image_size() == 384);
  CHECK_NOTHROW(models::check_config(models::kDeepSeekVL1_3B, "1.3B"));
  CHECK_NOTHROW(models::check_config(models::kDeepSeekVL7B, "7B"));
  CHECK(models::kDeepSeekVL7B.sam.num_tokens() == 576);
  CHECK(models::kDeepSeekVL7B.language.hidden_size == 4096);

  // The published 7B config (spec.md 1.1) reads as the preset.
  const auto seven = nlohmann::json::parse(R"({
    "model_type": "multi_modality",
    "vision_config": {"cls": "HybridVisionTower", "model_type": "vision", "params": {
      "concat_type": "tuple", "freeze_high": true, "freeze_low": true,
      "high_res_cfg": {"model_name": "sam_b_downsample", "image_size": 1024, "select_feature": "same",
                       "select_layer": -1, "output_dim": 1024, "ckpt_path": "",
                       "pixel_mean": [0.48145466, 0.4578275, 0.40821073],
                       "pixel_std": [0.26862954, 0.26130258, 0.27577711]},
      "low_res_cfg": {"model_name": "siglip_large_patch16_384", "image_size": 384, "select_feature": "same",
                      "select_layer": -1, "output_dim": 1024, "ckpt_path": "",
                      "pixel_mean": [0.5, 0.5, 0.5], "pixel_std": [0.5, 0.5, 0.5]}}},
    "aligner_config": {"cls": "MlpProjector", "model_type": "aligner",
                       "params": {"projector_type": "low_high_hybrid_split_mlp_gelu", "depth": 2,
                                  "input_dim": 1024, "n_embed": 4096}},
    "language_config": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 30,
                        "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 102400,
                        "max_position_embeddings": 16384, "rms_norm_eps": 1e-06, "model_type": "llama"}})");
  CHECK(models::parse_deepseek_vl_config(seven, "7b") == models::kDeepSeekVL7B);
  CHECK(models::differences(models::kDeepSeekVL7B, models::kDeepSeekVL1_3B).size() >= 5);

  // config.json written from a config reads back as it.
  for (const auto& preset : {models::kDeepSeekVL1_3B, models::kDeepSeekVL7B})
    CHECK(models::parse_deepseek_vl_config(models::to_config_json(preset), "written") == preset);
  const auto tables = vision::VisionNameTables::read(kDir / "vision_models.json");
  CHECK(models::parse_deepseek_vl_config(models::to_config_json(hybrid, tables), "written", tables) == hybrid);
  CHECK_THROWS_WITH(models::to_config_json(hybrid), doctest::Contains("name-table entry has the sizes"));

  auto bad = seven;
  bad["model_type"] = "deepseek_vl_v2";
  CHECK_THROWS_WITH(models::parse_deepseek_vl_config(bad, "cfg"), doctest::Contains("expected \"multi_modality\""));
  bad = seven;
  bad["aligner_config"]["params"]["n_embed"] = 2048;
  CHECK_THROWS_WITH(models::parse_deepseek_vl_config(bad, "cfg"),
                    doctest::Contains("n_embed is 2048 but language_config hidden_size is 4096"));
  bad = seven;
  bad["aligner_config"]["params"]["projector_type"] = "mlp_gelu";
  CHECK_THROWS_WITH(models::parse_deepseek_vl_config(bad, "cfg"), doctest::Contains("HybridVisionTower"));
  bad = seven;
  bad["vision_config"]["params"]["concat_type"] = "sequence";
  CHECK_THROWS_WITH(models::parse_deepseek_vl_config(bad, "cfg"), doctest::Contains("'params/concat_type'"));
  bad = seven;
  bad["vision_config"]["params"]["low_res_cfg"].erase("pixel_std");
  CHECK_THROWS_WITH(models::parse_deepseek_vl_config(bad, "cfg"),
                    doctest::Contains("'params/low_res_cfg/pixel_std' is missing"));
  bad = seven;
  bad["language_config"].erase("hidden_size");  // LlamaConfig's default, 4096
  CHECK(models::parse_deepseek_vl_config(bad, "cfg") == models::kDeepSeekVL7B);
  bad["language_config"]["hidden_size"] = "big";
  CHECK_THROWS_WITH(models::parse_deepseek_vl_config(bad, "cfg"), doctest::Contains("language_config/hidden_size"));
  bad.erase("language_config");
  CHECK_THROWS_WITH(models::parse_deepseek_vl_config(bad, "cfg"), doctest::Contains("missing field 'language_config'"));
  bad = seven;
  bad["vision_config"]["params"]["low_res_cfg"]["model_name"] = "siglip_tiny_patch16_384";
  CHECK_THROWS_WITH(models::parse_deepseek_vl_config(bad, "cfg"), doctest::Contains("not a known SigLIP model"));
}

TEST_CASE("DeepSeekVL: the preset models declare the official tensor names") {
  DeepSeekVL<policies::ScalarBF16, models::kDeepSeekVL7B> seven;
  nn::WeightNames names;
  seven.visit(names);
  std::set<std::string> declared;
  for (const auto& e : names.entries) declared.insert(e.name);
  CHECK(declared.size() == names.entries.size());
  for (const char* n : {"vision_model.vision_tower_high.vision_tower.blocks.11.attn.rel_pos_h",
                        "vision_model.vision_tower_high.vision_tower.hd_alpha_downsamples",
                        "vision_model.vision_tower_low.vision_tower.blocks.23.mlp.fc2.weight",
                        "vision_model.vision_tower_low.vision_tower.norm.bias", "aligner.high_up_proj.weight",
                        "aligner.layers.1.bias", "language_model.model.layers.29.mlp.down_proj.weight",
                        "language_model.lm_head.weight"})
    CHECK_MESSAGE(declared.count(n) == 1, n);
  nn::WeightCount count7;
  seven.visit(count7);
  // spec.md 1.1: about 7.3 G parameters.
  CHECK(count7.count > 7'200'000'000);
  CHECK(count7.count < 7'400'000'000);

  DeepSeekVL<policies::ScalarBF16, models::kDeepSeekVL1_3B> small;
  nn::WeightNames small_names;
  small.visit(small_names);
  CHECK(small_names.entries.front().name.starts_with("vision_model.vision_tower."));
  nn::WeightCount count1;
  small.visit(count1);
  // spec.md 1.1: about 1.98 G parameters (the attention-pool head, which is not declared, aside).
  CHECK(count1.count > 1'900'000'000);
  CHECK(count1.count < 2'000'000'000);
}

TEST_CASE_TEMPLATE("DeepSeekVL matches the official code end to end", P, policies::ScalarF32, policies::ScalarBF16,
                   policies::XsimdF32, policies::XsimdBF16, policies::HwyF32, policies::HwyBF16) {
  if (!have_fixtures()) return;
#if !DSVL_WITH_IMAGE
  MESSAGE("skipped: built without dsvl::image (no PNG reader)");
  return;
#endif
  constexpr bool is_f32 = std::is_same_v<typename P::weight_type, float>;
  ThreadPool pool(2);
  for (const Case& c : cases()) {
    CAPTURE(std::string(c.model) + " " + c.name);
    const fs::path dir = kDir / c.model;
    const ReferenceFile ref(dir / "reference.safetensors");
    const std::string pre = std::string(c.name) + ".";
    const auto tok = io::Tokenizer::from_file(dir / "tokenizer.json");
    const auto model = DeepSeekVL<P>::from_directory(dir);
    const auto px = pixel_values(c, model.image_size());
    if (ref.contains(pre + "pixel_values.row_sum")) CHECK(pixel_sum_error(ref, pre + "pixel_values", px) <= 1e-9 * 384);
    const auto positions = ref.i64(pre + "logits_positions");
    const Outputs got = run(model, tok, c, View<const float, 4>(px.view()), positions, pool);

    CHECK(got.input_ids == as_i32(ref.i64(pre + "input_ids")));
    const auto want_embeds = ref.f32(pre + "image_embeds", ref.shape(pre + "image_embeds"), ref.shape(pre + "image_embeds")[0]);
    const auto want_logits = ref.f32(pre + "logits", ref.shape(pre + "logits"), static_cast<std::int64_t>(positions.size()));
    if constexpr (is_f32) {
      const double e_img = relative_error(View<const float, 2>(got.image_embeds.view()), want_embeds.view());
      const double e_log = relative_error(View<const float, 2>(got.logits.view()), want_logits.view());
      MESSAGE((std::string(c.model) + " " + c.name), ": image_embeds ", e_img, ", logits ", e_log);
      CHECK(e_img <= kRelTol);
      CHECK(e_log <= kRelTol);
      CHECK(got.greedy == as_i32(ref.i64(pre + "greedy_ids")));
    } else {
      const fs::path rounded =
          fs::temp_directory_path() / ("dsvl_vl_bf16_" + std::to_string(::getpid()) + "_" + c.model);
      fs::create_directories(rounded);
      for (const char* f : {"config.json", "vision_models.json"})
        if (fs::exists(dir / f)) fs::copy_file(dir / f, rounded / f, fs::copy_options::overwrite_existing);
      write_as_loaded_in_bf16(dir, rounded / "model.safetensors");
      const auto f32 = DeepSeekVL<policies::ScalarF32>::from_directory(rounded);
      const Outputs want = run(f32, tok, c, View<const float, 4>(px.view()), positions, pool);
      fs::remove_all(rounded);
      const double e_img =
          relative_error(View<const float, 2>(got.image_embeds.view()), View<const float, 2>(want.image_embeds.view()));
      const double e_log = relative_error(View<const float, 2>(got.logits.view()), View<const float, 2>(want.logits.view()));
      MESSAGE((std::string(c.model) + " " + c.name), " (bf16 weights vs f32 on the same rounded weights): image_embeds ", e_img,
              ", logits ", e_log, "; vs the official f32 run: logits ",
              relative_error(View<const float, 2>(got.logits.view()), want_logits.view()));
      CHECK(e_img <= kRelTol);
      CHECK(e_log <= kRelTol);
      CHECK(got.greedy == want.greedy);
    }
  }
}

// The hybrid's SigLIP branch reads the image after torchvision's Resize(384, antialias=True); the
// fixture has its row and column sums (float64 over float32 values: 1e-4 of a sum of 384 values in
// [0, 1] allows rounding differences of the f32 interpolation, not a wrong tap).
TEST_CASE("HybridVisionTower: the low-resolution branch's resize equals the official one") {
  if (!have_fixtures()) return;
#if DSVL_WITH_IMAGE
  const auto all = cases();
  const Case& c = all[2];
  REQUIRE(std::string(c.name) == "one_image");
  const ReferenceFile ref(kDir / c.model / "reference.safetensors");
  const auto model = DeepSeekVL<policies::HwyF32>::from_directory(kDir / c.model);
  REQUIRE(model.hybrid_tower());
  const auto& tower = *model.hybrid_tower();
  const auto px = pixel_values(c, model.image_size());
  const std::int64_t s = model.config().siglip.image_size, K = model.num_image_tokens();
  Tensor<float, 4> resized({1, 3, s, s});
  Tensor<float, 2> high({K, model.config().sam.out_dim()}), low({K, model.config().siglip.width});
  tower.forward(px.view()[0], high.view(), low.view(), ThreadPool::global(), resized.view()[0]);
  const double e = pixel_sum_error(ref, "one_image.vision.low.resized", resized);
  MESSAGE("largest row or column sum difference: ", e);
  CHECK(e <= 1e-4);
#endif
}

TEST_CASE("DeepSeekVL with a compile-time preset gives the run-time results and refuses other sizes") {
  if (!have_fixtures()) return;
  const fs::path dir = kDir / "tiny-siglip";
  const auto dynamic = DeepSeekVL<policies::HwyF32>::from_directory(dir);
  const auto fixed = DeepSeekVL<policies::HwyF32, kTinySiglip>::from_directory(dir);
  static_assert(DeepSeekVL<policies::HwyF32, kTinySiglip>::is_fixed && !DeepSeekVL<policies::HwyF32>::is_fixed);
  CHECK(fixed.config() == kTinySiglip);
  Tensor<float, 4> px({1, 3, 192, 192});
  for (std::int64_t i = 0; i < px.size(); ++i) px.data()[i] = static_cast<float>((i * 7919) % 256) / 255.0f;
  ThreadPool pool(2);
  const auto a = dynamic.encode_images(View<const float, 4>(px.view()), pool);
  const auto b = fixed.encode_images(View<const float, 4>(px.view()), pool);
  CHECK(std::equal(a.data(), a.data() + a.size(), b.data()));
  const std::vector<std::int32_t> ids{2000, 5, 2015, 7};
  Tensor<float, 2> one({1, 32});
  std::copy_n(a.data(), 32, one.data());
  auto ca = dynamic.language_model().make_cache(8), cb = fixed.language_model().make_cache(8);
  const auto xa = dynamic.embed(ids, 2015, View<const float, 2>(one.view()));
  const auto la = dynamic.language_model().forward(View<const float, 2>(xa.view()), ca);
  const auto lb = fixed.language_model().forward(View<const float, 2>(fixed.embed(ids, 2015, View<const float, 2>(one.view())).view()), cb);
  CHECK(std::equal(la.data(), la.data() + la.size(), lb.data()));

  using Wrong = DeepSeekVL<policies::HwyF32, models::kDeepSeekVL1_3B>;
  CHECK_THROWS_WITH(Wrong::from_directory(dir),
                    doctest::Contains("does not match the compile-time DeepSeekVLConfig"));
  CHECK_THROWS_WITH(Wrong::from_directory(dir), doctest::Contains("language_config.hidden_size: 32 vs 2048"));
  CHECK_THROWS_WITH(Wrong::from_directory(dir), doctest::Contains("siglip.image_size: 192 vs 384"));
}

TEST_CASE("DeepSeekVL: bad checkpoints and inputs get errors that name what is wrong") {
  if (!have_fixtures()) return;
  const fs::path dir = kDir / "tiny-siglip";
  const fs::path bad = fs::temp_directory_path() / ("dsvl_vl_bad_" + std::to_string(::getpid()));
  fs::create_directories(bad);
  fs::copy_file(dir / "config.json", bad / "config.json", fs::copy_options::overwrite_existing);
  fs::copy_file(dir / "vision_models.json", bad / "vision_models.json", fs::copy_options::overwrite_existing);

  // A checkpoint without one tensor and with one of the wrong shape, and a stray one.
  {
    const auto ckpt = io::Checkpoint::open(dir);
    io::SafeTensorsWriter w;
    for (const auto name : ckpt.names()) {
      const std::string n(name);
      const auto& info = ckpt.info(n);
      if (n == "aligner.layers.2.bias") continue;
      if (n == "language_model.model.norm.weight") {
        w.add(n, ckpt.view<float, 1>(n).slice(0, 0, 16));
        continue;
      }
      std::int64_t size = 1;
      for (auto s : info.shape) size *= s;
      w.add(n, View<const float, 1>(reinterpret_cast<const float*>(info.bytes.data()), {size}));
    }
    Tensor<float, 1> extra({4});
    w.add("vision_model.extra.weight", extra);
    w.write(bad / "model.safetensors");
  }
  try {
    (void)DeepSeekVL<policies::ScalarF32>::from_directory(bad);
    FAIL("no error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("missing tensor 'aligner.layers.2.bias'") != std::string::npos);
    CHECK(msg.find("'language_model.model.norm.weight' has shape [16], expected [32]") != std::string::npos);
    CHECK(msg.find("unexpected tensor 'vision_model.extra.weight'") != std::string::npos);
    CHECK(msg.find(bad.string()) != std::string::npos);
  }

  // A truncated file, and no weights at all.
  {
    const auto size = fs::file_size(dir / "model.safetensors");
    fs::copy_file(dir / "model.safetensors", bad / "model.safetensors", fs::copy_options::overwrite_existing);
    fs::resize_file(bad / "model.safetensors", size / 2);
    CHECK_THROWS_WITH((void)DeepSeekVL<policies::ScalarF32>::from_directory(bad), doctest::Contains("model.safetensors"));
    fs::remove(bad / "model.safetensors");
    CHECK_THROWS_WITH((void)DeepSeekVL<policies::ScalarF32>::from_directory(bad),
                      doctest::Contains("neither model.safetensors nor model.safetensors.index.json"));
  }
  // Without vision_models.json the tiny tower is unknown.
  fs::remove(bad / "vision_models.json");
  CHECK_THROWS_WITH((void)DeepSeekVL<policies::ScalarF32>::from_directory(bad),
                    doctest::Contains("\"siglip_tiny_patch16_192\", which is not a known SigLIP model"));
  fs::remove_all(bad);

  // Inputs: image-token count against embeddings, pixel sizes.
  const auto model = DeepSeekVL<policies::ScalarF32>::from_directory(dir);
  Tensor<float, 2> embeds({144, 32});
  const std::vector<std::int32_t> ids{2000, 2015, 2015};
  CHECK_THROWS_WITH((void)model.embed(ids, 2015, View<const float, 2>(embeds.view())),
                    doctest::Contains("the prompt has 2 image tokens (id 2015) but there are 144 image embeddings"));
  const std::vector<std::int32_t> out_of_vocab{2000, 4096};
  CHECK_THROWS_WITH((void)model.embed(out_of_vocab, 2015, View<const float, 2>()), doctest::Contains("token id 4096"));
  Tensor<float, 4> px({1, 3, 100, 100});
  CHECK_THROWS_WITH((void)model.encode_images(View<const float, 4>(px.view())), doctest::Contains("expected (n, 3, 192, 192)"));
}
