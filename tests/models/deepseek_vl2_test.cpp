// DeepSeekVL2 end to end against the official code (tests/data/deepseek_vl2, written by
// tools/reference/deepseek_vl2.py): from the image files and the conversation to the tiles,
// input_ids, the SigLIP and projector outputs, inputs_embeds, every decoder layer, the MoE routing,
// logits and 16 greedy tokens, for the three language-model variants (Tiny's MHA with softmax
// routing, Small's MLA with softmax routing, Base's MLA with sigmoid noaux_tc routing over expert
// groups) and four requests (one tiled image, two tiled images, three untiled images, text only),
// in every CPU policy. Also the presets against the published config and tensor index.
//
// Tolerances. Tiles and input_ids: exact (Pillow-exact resampling, the official token layout).
// f32 policies: every float tensor within 1e-4 of the tensor's largest magnitude (the same math
// as PyTorch's in another order of additions; measured errors are printed, around 1e-6). Routing:
// the same experts per token (the fixture's routing decisions are at least 1e-4 from a tie) and
// their weights within 1e-4. bf16 policies: the f32 checkpoint is rounded to bf16 on load, which
// moves outputs by far more than 1e-4; they must match, within 1e-4, the scalar f32 policy on the
// same rounded weights. Greedy tokens: identical (the fixture's top-1 margin is above 0.01).

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/io/safetensors.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/language/chat_format.hpp"
#include "dsvl/language/generate.hpp"
#include "dsvl/models/deepseek_vl2.hpp"
#include "dsvl/models/deepseek_vl2_config.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/dynamic_tiling.hpp"
#include "reference_fixture.hpp"
#include "shared_data.hpp"
#if DSVL_WITH_IMAGE
#include "dsvl/io/image.hpp"
#endif

using namespace dsvl;
using dsvl::test::argmax;
using dsvl::test::ReferenceFile;
using dsvl::test::want_f32;
using dsvl::test::rows_at;
using dsvl::test::as_i32;
using dsvl::test::relative_error;
using models::DeepSeekVL2;
using models::DeepSeekVL2Config;

namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl2";
constexpr double kRelTol = 1e-4;
const char* const kVariants[] = {"tiny-mha", "tiny-mla", "tiny-mla-noaux"};

bool have_fixtures() {
  if (fs::exists(kDir / "tiny-mla-noaux" / "reference.safetensors")) return true;
  MESSAGE("skipped: tests/data/deepseek_vl2 not found");
  return false;
}

struct Case {
  const char* name;
  std::vector<const char*> images;
  language::Conversation conversation;
};

std::vector<Case> cases() {
  using language::Conversation;
  return {
      {"tiles", {"image_a.png"}, Conversation{}.user("<image>\nDescribe this picture in detail.").assistant()},
      {"two",
       {"image_b.png", "image_c.png"},
       Conversation{}
           .user("This is image_1: <image>\nThis is image_2: <image>\n<|ref|>The red box<|/ref|>.")
           .assistant()},
      {"three",
       {"image_a.png", "image_b.png", "image_c.png"},
       Conversation{}.user("<image><image><image>\nWhich one is the widest?").assistant()},
      {"text",
       {},
       Conversation{}
           .user("Hello!")
           .assistant("Hi, how can I help?")
           .user("<|grounding|>What is 12345 + 678?")
           .assistant()},
  };
}

// The processor's work: every image's tiles (cropping only for requests of at most 2 images),
// as the official environment's Pillow 10.2 resamples.
struct Processed {
  std::vector<vision::ImageTiles> images;
  Tensor<float, 4> pixels;  // (n_tiles, 3, S, S)
};

Processed process(const Case& c, const fs::path& model_dir) {
  Processed p;
  const auto cfg = vision::read_vl2_image_processor_config(model_dir / "processor_config.json");
  std::int64_t tiles = 0;
#if DSVL_WITH_IMAGE
  for (const char* file : c.images) {
    p.images.push_back(vision::tile_image(io::read_image(kDir / file).view(), cfg,
                                          vision::cropping_enabled(c.images.size()),
                                          vision::PillowVersion::before_12_2));
    tiles += p.images.back().num_tiles();
  }
#endif
  const std::int64_t S = cfg.tile_size();
  p.pixels = Tensor<float, 4>({tiles, 3, S, S});
  std::int64_t at = 0;
  for (const auto& img : p.images) {
    vision::tile_pixel_values(img, cfg, p.pixels.view().slice(0, at, at + img.num_tiles()));
    at += img.num_tiles();
  }
  return p;
}

struct Outputs {
  std::vector<std::int32_t> input_ids;
  Tensor<float, 2> vision, projector;  // (n_tiles * patches, width), (n_tiles * t^2, D)
  Tensor<float, 2> inputs_embeds;
  std::map<std::string, Tensor<float, 2>> hidden;  // "language.layer.<i>", "language.norm" at hidden_positions
  std::map<std::int64_t, language::ExpertChoice> routing;
  Tensor<float, 2> logits;  // at logits_positions
  std::vector<std::int32_t> greedy;
};

template <class Model>
Outputs run(Model& model, const io::Tokenizer& tok, const Case& c, const Processed& p,
            const ReferenceFile& ref, ThreadPool& pool) {
  const std::string pre = std::string(c.name) + ".";
  Outputs o;
  std::vector<std::size_t> counts;
  for (const auto& img : p.images)
    counts.push_back(static_cast<std::size_t>(model.image_token_count(img.width_tiles, img.height_tiles)));
  const auto prompt = language::deepseek_vl2::encode_prompt(tok, c.conversation, counts);
  o.input_ids = prompt.input_ids;

  const std::int64_t n_tiles = p.pixels.shape(0), D = model.hidden_size();
  const auto& vc = model.config().vision;
  const std::int64_t t = model.tokens_per_tile_side();
  Tensor<float, 2> image_embeds({0, D});
  if (n_tiles > 0) {
    o.vision = Tensor<float, 2>({n_tiles * vc.num_patches(), vc.width});
    for (std::int64_t i = 0; i < n_tiles; ++i)
      model.vision_tower().forward(p.pixels.view()[i],
                                   o.vision.view().slice(0, i * vc.num_patches(), (i + 1) * vc.num_patches()), pool);
    const auto tokens = model.encode_tiles(std::as_const(p.pixels).view(), pool);  // (n_tiles, t^2, D)
    o.projector = Tensor<float, 2>({n_tiles * t * t, D});
    std::copy_n(tokens.data(), tokens.size(), o.projector.data());
    std::vector<models::ImageGrid> grids;
    for (const auto& img : p.images) grids.push_back({img.width_tiles, img.height_tiles});
    image_embeds = model.encode_images(std::as_const(p.pixels).view(), grids, pool);
  }
  o.inputs_embeds = model.embed(o.input_ids, prompt.image_token_id, std::as_const(image_embeds).view());

  auto& lm = model.language_model();
  const auto hidden_positions = ref.i64(pre + "hidden_positions");
  const Overloaded tracer{
      [&](std::string_view name, std::int64_t layer, View<const float, 2> x) {
        const std::string key = name == "layer" ? "language.layer." + std::to_string(layer) : "language.norm";
        o.hidden[key] = rows_at(x, hidden_positions);
      },
      [&](std::string_view, std::int64_t layer, const language::ExpertChoice& choice) {
        o.routing[layer] = {choice.experts.clone(), choice.weights.clone()};
      }};
  const std::int64_t T = o.inputs_embeds.shape(0);
  auto cache = lm.make_cache(T + 16);
  const auto all = lm.forward(std::as_const(o.inputs_embeds).view(), cache, language::LogitRows::all, pool,
                              language::MlaForm::automatic, tracer);
  o.logits = rows_at(all.view(), ref.i64(pre + "logits_positions"));

  auto gen_cache = lm.make_cache(T + 16);
  std::vector<std::int32_t> history = o.input_ids;
  language::Sampler greedy{language::SamplingConfig{}};
  o.greedy = language::generate(lm, std::as_const(o.inputs_embeds).view(), gen_cache, history,
                                language::GenerationOptions{16, {}}, greedy, {}, pool)
                 .tokens;
  return o;
}

// The largest relative error over every float output of `got` against `want`, each printed.
double compare(const Outputs& got, const Outputs& want, const std::string& label) {
  double worst = 0;
  const auto check = [&](const std::string& name, const Tensor<float, 2>& a, const Tensor<float, 2>& b) {
    REQUIRE(a.shape() == b.shape());
    const double e = relative_error(a.view(), b.view());
    INFO(label << " " << name << ": relative error " << e);
    CHECK(e <= kRelTol);
    worst = std::max(worst, e);
  };
  if (want.vision.size() > 0) {
    check("vision", got.vision, want.vision);
    check("projector", got.projector, want.projector);
  }
  check("inputs_embeds", got.inputs_embeds, want.inputs_embeds);
  for (const auto& [name, x] : want.hidden) check(name, got.hidden.at(name), x);
  check("logits", got.logits, want.logits);
  for (const auto& routing : want.routing) {
    const auto& layer = routing.first;
    const auto& w = routing.second;
    const auto& g = got.routing.at(layer);
    const std::int64_t T = w.experts.shape(0), k = w.experts.shape(1);
    REQUIRE(g.experts.shape(0) == T);
    std::int64_t mismatched = 0;
    double weight_error = 0;
    for (std::int64_t t = 0; t < T; ++t) {
      std::map<std::int32_t, float> a, b;  // expert -> weight, compared as sets
      for (std::int64_t i = 0; i < k; ++i) {
        a[g.experts(t, i)] = g.weights(t, i);
        b[w.experts(t, i)] = w.weights(t, i);
      }
      bool same = a.size() == b.size();
      for (const auto& [e, x] : b) {
        const auto it = a.find(e);
        if (it == a.end()) same = false;
        else weight_error = std::max(weight_error, static_cast<double>(std::abs(it->second - x)));
      }
      mismatched += !same;
    }
    INFO(label << " MoE layer " << layer << ": " << mismatched << " tokens routed differently, weight error "
                << weight_error);
    CHECK(mismatched == 0);
    CHECK(weight_error <= kRelTol);
  }
  CHECK(got.greedy == want.greedy);
  return worst;
}

// The fixture's values as Outputs.
Outputs reference_outputs(const ReferenceFile& ref, const Case& c, std::int64_t layers) {
  const std::string pre = std::string(c.name) + ".";
  Outputs o;
  o.input_ids = as_i32(ref.i64(pre + "input_ids"));
  if (ref.contains(pre + "vision")) {
    o.vision = want_f32(ref, pre + "vision");
    o.projector = want_f32(ref, pre + "projector");
  }
  o.inputs_embeds = want_f32(ref, pre + "inputs_embeds");
  for (std::int64_t l = 0; l < layers; ++l) {
    const std::string name = "language.layer." + std::to_string(l);
    o.hidden[name] = want_f32(ref, pre + name);
  }
  o.hidden["language.norm"] = want_f32(ref, pre + "language.norm");
  for (std::int64_t l = 0; l < layers; ++l) {
    const std::string name = pre + "moe." + std::to_string(l) + ".";
    if (!ref.contains(name + "topk_idx")) continue;
    const auto idx = ref.i64(name + "topk_idx");
    const auto shape = ref.shape(name + "topk_idx");
    language::ExpertChoice choice{Tensor<std::int32_t, 2>({shape[0], shape[1]}), want_f32(ref, name + "topk_weight")};
    std::transform(idx.begin(), idx.end(), choice.experts.data(), [](std::int64_t v) { return static_cast<std::int32_t>(v); });
    o.routing[l] = std::move(choice);
  }
  o.logits = want_f32(ref, pre + "logits");
  o.greedy = as_i32(ref.i64(pre + "greedy_ids"));
  return o;
}

// The checkpoint of `dir` as a bf16 policy holds it (matrices rounded to bf16), as a model folder.
fs::path write_as_loaded_in_bf16(const fs::path& dir, const std::string& tag) {
  const fs::path out = fs::temp_directory_path() / ("dsvl_vl2_bf16_" + std::to_string(::getpid()) + "_" + tag);
  fs::create_directories(out);
  fs::copy_file(dir / "config.json", out / "config.json", fs::copy_options::overwrite_existing);
  auto m = DeepSeekVL2<policies::ScalarBF16>::from_directory(dir);
  io::SafeTensorsWriter w;
  nn::WeightSaver saver(w);
  m.visit(saver);
  w.write(out / "model.safetensors");
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("DeepSeekVL2 matches the official code end to end", P, policies::ScalarF32, policies::ScalarBF16,
                   policies::XsimdF32, policies::XsimdBF16, policies::HwyF32, policies::HwyBF16) {
  if (!have_fixtures()) return;
#if !DSVL_WITH_IMAGE
  MESSAGE("skipped: built without dsvl::image (no PNG reader)");
  return;
#endif
  constexpr bool is_f32 = std::is_same_v<typename P::weight_type, float>;
  ThreadPool pool(2);
  const ReferenceFile pixels(kDir / "pixel_values.safetensors");
  for (const char* variant : kVariants) {
    const fs::path dir = kDir / variant;
    const ReferenceFile ref(dir / "reference.safetensors");
    const auto tok = io::Tokenizer::from_file(dir / "tokenizer.json");
    auto model = DeepSeekVL2<P>::from_directory(dir);
    const fs::path rounded = is_f32 ? fs::path{} : write_as_loaded_in_bf16(dir, variant);
    for (const Case& c : cases()) {
      const std::string label = std::string(variant) + " " + c.name;
      CAPTURE(label);
      const Processed p = process(c, dir);
      // The tiles, byte for byte, and their float pixel values.
      if (pixels.contains(std::string(c.name) + ".pixel_values.u8")) {
        const auto shape = pixels.shape(std::string(c.name) + ".pixel_values.u8");
        const auto* u8 = reinterpret_cast<const std::uint8_t*>(pixels.data(std::string(c.name) + ".pixel_values.u8", "U8", shape));
        REQUIRE(shape[0] == p.pixels.shape(0));
        std::int64_t differ = 0;
        for (std::int64_t i = 0; i < p.pixels.size(); ++i)
          differ += p.pixels.data()[i] != (static_cast<float>(u8[i]) / 255.0f - 0.5f) / 0.5f;
        CHECK(differ == 0);
      }
      const Outputs got = run(model, tok, c, p, ref, pool);
      CHECK(got.input_ids == as_i32(ref.i64(std::string(c.name) + ".input_ids")));
      if constexpr (is_f32) {
        const double e = compare(got, reference_outputs(ref, c, model.config().language.num_hidden_layers), label);
        MESSAGE(label, ": largest relative error ", e);
      } else {
        auto f32 = DeepSeekVL2<policies::ScalarF32>::from_directory(rounded);
        const Outputs want = run(f32, tok, c, p, ref, pool);
        const double e = compare(got, want, label + " (bf16 weights vs f32 on the rounded weights)");
        MESSAGE(label, " (bf16 weights vs f32 on the same rounded weights): largest relative error ", e);
      }
    }
    if (!rounded.empty()) fs::remove_all(rounded);
  }
}

namespace {
// A quantized policy against the official f32 outputs, on every variant and request: the logits'
// largest error relative to their largest magnitude, and how many logit rows keep the reference's
// top-1 token. Quantizing moves each weight by up to half a step (q8: max|w| / 254 per group of
// 32, q4: max|w| / 16), about 0.4% and 6% of a group's range, and may route a token near a tie to
// other experts, so routing and greedy tokens are not compared. Measured over the 3 variants x 4
// requests (printed), with the int8 activations of the x86 kernels: q8 logits up to 0.166, top-1
// 91-92/96; q4 up to 0.59, top-1 61-63/96. The bounds are about 1.5x (q8) and 1.35x (q4) those;
// these tiny models have Gaussian random weights (docs/quantization.md). VisionP runs the tower
// and projector: bf16 by default, or quantized as well, which moved neither figure past the
// language model's own (measured: q8 everywhere 0.125 and 91/96; q4 with a q8 or q4 vision side
// 0.53-0.55 and 61-63/96), so the bounds are the same.
template <class P, class VisionP = dense_policy_t<P>>
void check_quantized(double tol_logits, double min_top1) {
#if DSVL_WITH_IMAGE
  ThreadPool pool(2);
  double worst = 0;
  std::int64_t agree = 0, rows = 0;
  for (const char* variant : kVariants) {
    const fs::path dir = kDir / variant;
    const ReferenceFile ref(dir / "reference.safetensors");
    const auto tok = io::Tokenizer::from_file(dir / "tokenizer.json");
    auto model = DeepSeekVL2<P, models::kDynamicDeepSeekVL2, VisionP>::from_directory(dir);
    const std::int64_t V = model.config().language.vocab_size;
    for (const Case& c : cases()) {
      const Outputs got = run(model, tok, c, process(c, dir), ref, pool);
      const auto want = want_f32(ref, std::string(c.name) + ".logits");
      REQUIRE(got.logits.shape() == want.shape());
      worst = std::max(worst, relative_error(got.logits.view(), want.view()));
      for (std::int64_t r = 0; r < want.shape(0); ++r, ++rows)
        agree += argmax(got.logits.data() + r * V, V) == argmax(want.data() + r * V, V);
    }
  }
  MESSAGE("DeepSeekVL2 [", P::kernel_tag::name, ", ", dsvl::test::weight_name<typename P::weight_type>(), " weights, vision ",
          dsvl::test::weight_name<typename VisionP::weight_type>(), "]: logits relative error ", worst, ", top-1 agreement ", agree, "/", rows);
  CHECK(worst <= tol_logits);
  CHECK(static_cast<double>(agree) >= min_top1 * static_cast<double>(rows));
#else
  (void)tol_logits;
  (void)min_top1;
  MESSAGE("skipped: built without dsvl::image (no PNG reader)");
#endif
}
}  // namespace

TEST_CASE("DeepSeekVL2 with q8 and q4 weights, vision side included, stays close to the official code") {
  if (!have_fixtures()) return;
  check_quantized<policies::HwyQ8>(0.25, 0.9);
  check_quantized<policies::HwyQ4>(0.8, 0.5);
  check_quantized<policies::HwyQ8, policies::HwyQ8>(0.25, 0.9);
  check_quantized<policies::HwyQ4, policies::HwyQ8>(0.8, 0.5);
  check_quantized<policies::HwyQ4, policies::HwyQ4>(0.8, 0.5);
}

TEST_CASE("DeepSeekVL2: MLA's absorbed and expanded forms give the same logits on the fixture") {
  if (!have_fixtures()) return;
  const auto model = DeepSeekVL2<policies::HwyF32>::from_directory(kDir / "tiny-mla-noaux");
  const ReferenceFile ref(kDir / "tiny-mla-noaux" / "reference.safetensors");
  const auto ids = as_i32(ref.i64("text.input_ids"));
  const auto x = model.language_model().embed(ids);
  const auto& lm = model.language_model();
  auto a = lm.make_cache(64), b = lm.make_cache(64);
  ThreadPool pool(2);
  const auto la = lm.forward(x.view(), a, language::LogitRows::all, pool, language::MlaForm::absorbed);
  const auto lb = lm.forward(x.view(), b, language::LogitRows::all, pool, language::MlaForm::expanded);
  const double e = relative_error(la.view(), lb.view());
  MESSAGE("absorbed vs expanded: relative logit error ", e);
  CHECK(e <= 1e-5);
  // The latent cache: kv_lora_rank + qk_rope_head_dim = 40 floats per token and layer.
  CHECK(a.bytes_per_token() == 3 * 40 * sizeof(float));
}

TEST_CASE("DeepSeekVL2Config: the fixtures, the presets, the published config and tensor names") {
  if (!have_fixtures()) return;
  const auto mha = models::read_deepseek_vl2_config(kDir / "tiny-mha");
  CHECK(mha.tile_size() == 102);
  CHECK(mha.tokens_per_tile_side() == 4);
  CHECK_FALSE(mha.language.use_mla);
  CHECK(mha.vision.gelu_tanh);
  const auto noaux = models::read_deepseek_vl2_config(kDir / "tiny-mla-noaux");
  CHECK(noaux.language.topk_method == language::TopkMethod::noaux_tc);
  CHECK(noaux.language.n_group == 4);

  static_assert(models::kDeepSeekVL2Tiny.tokens_per_tile_side() == 14);
  for (const auto& preset : {models::kDeepSeekVL2Tiny, models::kDeepSeekVL2Small, models::kDeepSeekVL2Base})
    CHECK_NOTHROW(models::check_config(preset, "preset"));

  const auto published = test::shared_data("tokenizers/deepseek-vl2/config.json");
  if (published.empty()) {
    MESSAGE("skipped the published config: the shared data folder is absent");
    return;
  }
  const auto base = models::read_deepseek_vl2_config(published);
  for (const auto& d : models::differences(base, models::kDeepSeekVL2Base)) MESSAGE(d);
  CHECK(base == models::kDeepSeekVL2Base);

  // The published tensor index lists exactly the names the Base preset declares (and the unused
  // SigLIP attention-pool head).
  const auto index = io::read_json(test::shared_data("tokenizers/deepseek-vl2/model.safetensors.index.json"));
  std::set<std::string> published_names;
  for (const auto& [name, file] : index.at("weight_map").items()) published_names.insert(name);
  DeepSeekVL2<policies::ScalarBF16, models::kDeepSeekVL2Base> model;
  nn::WeightNames names;
  model.visit(names);
  std::set<std::string> declared;
  for (const auto& e : names.entries) declared.insert(e.name);
  CHECK(declared.size() == names.entries.size());
  std::vector<std::string> missing, extra;
  for (const auto& n : declared)
    if (!published_names.count(n)) extra.push_back(n);
  for (const auto& n : published_names)
    if (!declared.count(n) && !n.starts_with("vision.attn_pool.")) missing.push_back(n);
  for (const auto& n : extra) MESSAGE("declared but not published: ", n);
  for (const auto& n : missing) MESSAGE("published but not declared: ", n);
  CHECK(extra.empty());
  CHECK(missing.empty());
  nn::WeightCount count;
  model.visit(count);
  MESSAGE("DeepSeek-VL2 Base parameters (attention pool aside): ", count.count);
  CHECK(count.count > 27'000'000'000);
  CHECK(count.count < 27'600'000'000);
}

// tests/data/deepseek_vl2/tiny-mla's sizes as a compile-time preset.
constexpr DeepSeekVL2Config kTinyMla{
    vision::VitConfig{102, 14, 32, 2, 2, 3.7362, -1, 1e-6, true, true},
    vision::DownsampleProjectorConfig{vision::DownsampleProjectorConfig::Type::downsample_mlp_gelu, 32, 64, 2, 1, 2},
    language::DeepseekV2Config{64, 96, 24, 3, 4, 4, true, 0, 32, 16, 8, 16, 8, 2, 3, 1, 1,
                               language::TopkMethod::greedy, 1, 1, language::ScoringFunc::softmax, false, 1.0, 672,
                               1024, 10000.0, 1e-6, false},
    vision::GlobalViewPos::head};

TEST_CASE("DeepSeekVL2 with a compile-time preset gives the run-time results and refuses other sizes") {
  if (!have_fixtures()) return;
  const fs::path dir = kDir / "tiny-mla";
  using Fixed = DeepSeekVL2<policies::HwyF32, kTinyMla>;
  static_assert(Fixed::is_fixed && !DeepSeekVL2<policies::HwyF32>::is_fixed);
  const auto fixed = Fixed::from_directory(dir);
  const auto dynamic = DeepSeekVL2<policies::HwyF32>::from_directory(dir);
  CHECK(fixed.config() == dynamic.config());
  Tensor<float, 4> px({2, 3, 102, 102});
  for (std::int64_t i = 0; i < px.size(); ++i) px.data()[i] = static_cast<float>((i * 7919) % 256) / 127.5f - 1.0f;
  ThreadPool pool(2);
  const auto a = dynamic.encode_tiles(std::as_const(px).view(), pool);
  const auto b = fixed.encode_tiles(std::as_const(px).view(), pool);
  CHECK(std::equal(a.data(), a.data() + a.size(), b.data()));
  const std::vector<std::int32_t> ids{0, 646, 17, 300, 5, 647};
  auto ca = dynamic.language_model().make_cache(8), cb = fixed.language_model().make_cache(8);
  const auto la = dynamic.language_model().forward_ids(ids, ca, language::LogitRows::all, pool);
  const auto lb = fixed.language_model().forward_ids(ids, cb, language::LogitRows::all, pool);
  CHECK(std::equal(la.data(), la.data() + la.size(), lb.data()));

  using Wrong = DeepSeekVL2<policies::HwyF32, models::kDeepSeekVL2Tiny>;
  CHECK_THROWS_WITH(Wrong::from_directory(kDir / "tiny-mha"),
                    doctest::Contains("does not match the compile-time DeepSeekVL2Config"));
  CHECK_THROWS_WITH(Wrong::from_directory(kDir / "tiny-mha"),
                    doctest::Contains("language_config.hidden_size: 64 vs 1280"));
}

TEST_CASE("DeepSeekVL2: bad configs and checkpoints get errors that name what is wrong") {
  if (!have_fixtures()) return;
  const fs::path dir = kDir / "tiny-mla-noaux";
  const auto good = io::read_json(dir / "config.json");
  const auto refuses = [&](auto edit, const std::string& needle) {
    auto j = good;
    edit(j);
    CHECK_THROWS_WITH(models::parse_deepseek_vl2_config(j, "config.json"), doctest::Contains(needle.c_str()));
  };
  refuses([](auto& j) { j["model_type"] = "multi_modality"; }, "expected \"deepseek_vl_v2\"");
  refuses([](auto& j) { j["tile_tag"] = "1D"; }, "'tile_tag'");
  refuses([](auto& j) { j["projector_config"]["n_embed"] = 32; }, "n_embed is 32 but language_config hidden_size is 64");
  refuses([](auto& j) { j["projector_config"]["projector_type"] = "mlp_gelu"; }, "projector_type");
  refuses([](auto& j) { j["language_config"]["topk_method"] = "random"; }, "language_config/topk_method");
  refuses([](auto& j) { j["language_config"]["n_group"] = 3; }, "n_group");
  refuses([](auto& j) { j["candidate_resolutions"][0] = {96, 96}; }, "candidate_resolutions");
  refuses([](auto& j) { j.erase("language_config"); }, "missing field 'language_config'");

  // A checkpoint without one tensor, with one of the wrong shape and with a stray one.
  const fs::path bad = fs::temp_directory_path() / ("dsvl_vl2_bad_" + std::to_string(::getpid()));
  fs::create_directories(bad);
  fs::copy_file(dir / "config.json", bad / "config.json", fs::copy_options::overwrite_existing);
  {
    const auto ckpt = io::Checkpoint::open(dir);
    io::SafeTensorsWriter w;
    for (const auto name : ckpt.names()) {
      const std::string n(name);
      const auto& info = ckpt.info(n);
      if (n == "language.model.layers.2.mlp.gate.e_score_correction_bias") continue;
      if (n == "view_seperator") w.add(n, View<const float, 1>(reinterpret_cast<const float*>(info.bytes.data()), {10}));
      else
        w.add_deferred(n, info.dtype, {info.shape.begin(), info.shape.end()}, [&info](std::span<std::byte> out) {
          std::copy(info.bytes.begin(), info.bytes.end(), out.begin());
        });
    }
    std::vector<float> stray(4, 0.0f);
    w.add("language.model.layers.9.mlp.gate.weight", View<const float, 1>(stray.data(), {4}));
    w.write(bad / "model.safetensors");
  }
  try {
    DeepSeekVL2<policies::ScalarF32>::from_directory(bad);
    FAIL("no error");
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("3 problem(s)") != std::string::npos);
    CHECK(what.find("missing tensor 'language.model.layers.2.mlp.gate.e_score_correction_bias' [8]") != std::string::npos);
    CHECK(what.find("tensor 'view_seperator' has shape [10], expected [64]") != std::string::npos);
    CHECK(what.find("unexpected tensor 'language.model.layers.9.mlp.gate.weight'") != std::string::npos);
  }
  fs::remove_all(bad);
}
