// DeepSeek-OCR: the config (the published config.json and the preset), the registry's choice
// between DeepSeek-OCR and DeepSeek-VL2, the Gundam tiling rule, every mode on a tiny random-weight
// model (token counts, layout, shapes), and end to end against the official code
// (tests/data/deepseek_ocr, written by tools/reference/deepseek_ocr.py): from the page files and the
// prompt to the ids, the views' pixels, SAM's and CLIP's intermediates, the projector, inputs_embeds,
// every decoder layer, logits and greedy tokens (plain and under the no-repeat n-gram rule), for every mode (Gundam with a wide, a tall and a
// small page) in every f32 CPU policy.
//
// Tolerances. Ids and pixels: exact (Pillow-exact resampling; the view's row and column sums of the
// uint8 image match). Floats: within 1e-4 of the tensor's largest magnitude, as for DeepSeek-VL2
// (the same math as PyTorch's with other orders of additions; the fixture's own two-order spread is
// up to 1e-6 of the scale, and the errors printed here are of that size). Greedy tokens: identical
// (the fixture's top-1 margins are above 0.02).

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/io/json.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/models/deepseek_ocr.hpp"
#include "dsvl/models/deepseek_ocr_entry.hpp"
#include "dsvl/models/deepseek_ocr_processor.hpp"
#include "dsvl/models/deepseek_vl2_entry.hpp"
#include "dsvl/models/model.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/aspect_ratio_tiling.hpp"
#include "reference_fixture.hpp"
#if DSVL_WITH_IMAGE
#include "dsvl/io/image.hpp"
#endif

using namespace dsvl;
using dsvl::test::ReferenceFile;
using dsvl::test::want_f32;
using dsvl::test::rows_at;
using dsvl::test::as_i32;
using dsvl::test::relative_error;
using models::DeepSeekOcrConfig;

namespace {

namespace fs = std::filesystem;

// The published deepseek-ai/DeepSeek-OCR config.json, less the root-level copies of the language
// fields (which the official code does not read).
const char* const kPublishedConfig = R"({
  "architectures": ["DeepseekOCRForCausalLM"], "model_type": "deepseek_vl_v2",
  "candidate_resolutions": [[1024, 1024]], "global_view_pos": "head", "tile_tag": "2D",
  "projector_config": {"input_dim": 2048, "model_type": "mlp_projector", "n_embed": 1280, "projector_type": "linear"},
  "vision_config": {"image_size": 1024, "mlp_ratio": 3.7362, "model_name": "deeplip_b_l", "model_type": "vision",
    "width": {"clip-l-14-224": {"heads": 16, "image_size": 224, "layers": 24, "patch_size": 14, "width": 1024},
              "sam_vit_b": {"downsample_channels": [512, 1024], "global_attn_indexes": [2, 5, 8, 11], "heads": 12,
                            "layers": 12, "width": 768}}},
  "language_config": {"architectures": ["DeepseekV2ForCausalLM"], "bos_token_id": 0, "eos_token_id": 1,
    "first_k_dense_replace": 1, "hidden_size": 1280, "intermediate_size": 6848, "kv_lora_rank": null, "lm_head": true,
    "max_position_embeddings": 8192, "model_type": "deepseek_v2", "moe_intermediate_size": 896, "n_group": 1,
    "n_routed_experts": 64, "n_shared_experts": 2, "num_attention_heads": 10, "num_experts_per_tok": 6,
    "num_hidden_layers": 12, "num_key_value_heads": 10, "q_lora_rank": null, "qk_nope_head_dim": 0,
    "qk_rope_head_dim": 0, "rm_head": false, "topk_group": 1, "topk_method": "greedy", "torch_dtype": "bfloat16",
    "use_mla": false, "v_head_dim": 0, "vocab_size": 129280}
})";

// A tiny model of the same architecture: SAM 32 wide (4 blocks, global 1 and 3), neck 16,
// net_2 24, net_3 32; CLIP 32 wide (2 blocks); projector 64 -> 48; a 2-layer MoE decoder.
DeepSeekOcrConfig tiny_config() {
  DeepSeekOcrConfig c;
  auto& sam = c.vision.width.sam;
  sam.width = 32;
  sam.layers = 4;
  sam.heads = 2;
  sam.global_attn_indexes = {1, 3};
  sam.prompt_embed_dim = 16;
  sam.downsample_channels = {24, 32};
  auto& clip = c.vision.width.clip;
  clip.width = 32;
  clip.layers = 2;
  clip.heads = 2;
  c.projector.input_dim = 64;
  c.projector.n_embed = 48;
  auto& lm = c.language;
  lm = language::kDeepSeekVL2TinyLanguage;
  lm.hidden_size = 48;
  lm.intermediate_size = 64;
  lm.moe_intermediate_size = 16;
  lm.num_hidden_layers = 2;
  lm.num_attention_heads = 4;
  lm.num_key_value_heads = 4;
  lm.n_routed_experts = 4;
  lm.num_experts_per_tok = 2;
  lm.vocab_size = 672;
  lm.max_position_embeddings = 8192;
  return c;
}

const fs::path kTokenizer = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl2" / "tiny-mha" / "tokenizer.json";

// A page [h, w, 3] of a smooth pattern.
Tensor<std::uint8_t, 3> page(std::int64_t h, std::int64_t w) {
  Tensor<std::uint8_t, 3> p({h, w, 3});
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t c = 0; c < 3; ++c) p(y, x, c) = static_cast<std::uint8_t>((x * 3 + y * 5 + c * 70) % 256);
  return p;
}

}  // namespace

TEST_CASE("DeepSeek-OCR: the published config.json is the preset, and the preset round-trips") {
  const auto j = nlohmann::json::parse(kPublishedConfig);
  const DeepSeekOcrConfig c = models::parse_deepseek_ocr_config(j, "config.json");
  CHECK(models::differences(c, models::kDeepSeekOcr).empty());
  CHECK(c == models::kDeepSeekOcr);
  CHECK(models::parse_deepseek_ocr_config(models::to_config_json(c), "round trip") == c);
  CHECK(c.tokens_per_side(512) == 8);
  CHECK(c.tokens_per_side(640) == 10);
  CHECK(c.tokens_per_side(1024) == 16);
  CHECK(c.tokens_per_side(1280) == 20);
  // The registry: DeepSeek-OCR by its architecture or by its towers' name, never DeepSeek-VL2.
  CHECK(models::DeepSeekOcrEntry::recognises(j));
  CHECK_FALSE(models::DeepSeekVL2Entry::recognises(j));
  auto renamed = j;
  renamed["architectures"] = nlohmann::json::array();
  renamed.erase("architectures");
  CHECK(models::DeepSeekOcrEntry::recognises(renamed));
  // Bad sizes are named.
  auto bad = j;
  bad["projector_config"]["input_dim"] = 1024;
  CHECK_THROWS_WITH_AS(models::parse_deepseek_ocr_config(bad, "config.json"),
                       doctest::Contains("projector_config input_dim is 1024"), Error);
  bad = j;
  bad["vision_config"]["width"]["sam_vit_b"]["layers"] = 100000;
  CHECK_THROWS_WITH_AS(models::parse_deepseek_ocr_config(bad, "config.json"),
                       doctest::Contains("sam_vit_b/layers"), Error);
}

TEST_CASE("DeepSeek-OCR: the preset declares the published checkpoint's tensors") {
  // The published model-00001-of-000001.safetensors: 2710 tensors, 3,336,106,240 parameters, of
  // which CLIP's unused patch convolution (1024 x 3 x 14 x 14) is the one not declared.
  models::DeepSeekOcr<policies::ScalarBF16, models::kDeepSeekOcr> model;
  nn::WeightNames names;
  model.visit(names);
  std::map<std::string, std::vector<std::int64_t>> shapes;
  std::int64_t params = 0;
  for (const auto& e : names.entries) {
    shapes[e.name] = e.shape;
    std::int64_t n = 1;
    for (const auto d : e.shape) n *= d;
    params += n;
  }
  CHECK(shapes.size() == names.entries.size());
  CHECK(shapes.size() == 2710 - 1);
  CHECK(params == 3336106240 - 1024 * 3 * 14 * 14);
  using Shape = std::vector<std::int64_t>;
  CHECK(shapes.at("model.sam_model.pos_embed") == Shape{1, 64, 64, 768});
  CHECK(shapes.at("model.sam_model.blocks.2.attn.rel_pos_h") == Shape{127, 64});
  CHECK(shapes.at("model.sam_model.blocks.3.attn.rel_pos_w") == Shape{27, 64});
  CHECK(shapes.at("model.sam_model.net_2.weight") == Shape{512, 256, 3, 3});
  CHECK(shapes.at("model.sam_model.net_3.weight") == Shape{1024, 512, 3, 3});
  CHECK(shapes.at("model.vision_model.embeddings.position_embedding.weight") == Shape{257, 1024});
  CHECK(shapes.at("model.vision_model.transformer.layers.23.self_attn.qkv_proj.weight") == Shape{3072, 1024});
  CHECK(shapes.at("model.projector.layers.weight") == Shape{1280, 2048});
  CHECK(shapes.at("model.view_seperator") == Shape{1280});
  CHECK(shapes.at("model.layers.11.mlp.experts.63.down_proj.weight") == Shape{1280, 896});
  CHECK(shapes.at("lm_head.weight") == Shape{129280, 1280});
}

TEST_CASE("DeepSeek-OCR: Gundam's closest-aspect-ratio grid, as the official count_tiles chooses it") {
  struct Case {
    std::int64_t w, h, max;
    vision::TileGrid grid;
  };
  // Expected values from the official find_closest_aspect_ratio (CPython 3.11).
  for (const Case& c : {Case{1500, 720, 6, {2, 1}}, Case{760, 1400, 6, {1, 2}}, Case{1000, 800, 6, {2, 2}},
                        Case{2000, 1600, 6, {3, 2}}, Case{2000, 1600, 9, {3, 3}}, Case{641, 100, 9, {6, 1}},
                        Case{3000, 3000, 6, {2, 2}}, Case{3000, 3000, 9, {3, 3}}, Case{900, 700, 9, {3, 2}}}) {
    CAPTURE(c.w);
    CAPTURE(c.h);
    CAPTURE(c.max);
    CHECK(vision::closest_aspect_ratio_grid(c.w, c.h, 640, c.max) == c.grid);
  }
  CHECK_THROWS_AS(vision::aspect_ratio_grids(10), Error);

  // The official count_tiles and tokenize_with_images for 52 page sizes (tests/data/deepseek_ocr/tiling.json).
  const auto tiling = io::read_json(fs::path(DSVL_TEST_DATA_DIR) / "deepseek_ocr" / "tiling.json");
  const DeepSeekOcrConfig cfg = models::kDeepSeekOcr;
  const models::DeepSeekOcrProcessor max6(io::Tokenizer::from_file(kTokenizer), cfg, vision::kSiglipPixelNorm, 6);
  const models::DeepSeekOcrProcessor max9(io::Tokenizer::from_file(kTokenizer), cfg);
  CHECK(max9.max_tiles() == 9);
  for (const auto& c : tiling.at("cases")) {
    const auto size = c.at("size").get<std::vector<std::int64_t>>();
    CAPTURE(size[0]);
    CAPTURE(size[1]);
    const auto grid = [&](const char* key) {
      const auto g = c.at(key).get<std::vector<std::int64_t>>();
      return vision::TileGrid{g[0], g[1]};
    };
    CHECK(vision::closest_aspect_ratio_grid(size[0], size[1], 640, 6) == grid("count_tiles_max6"));
    CHECK(vision::closest_aspect_ratio_grid(size[0], size[1], 640, 9) == grid("count_tiles_max9"));
    for (const auto& item : c.at("num_image_tokens").items()) {
      const std::string key = item.key();
      const auto& want = item.value();
      if (want.is_null()) continue;  // Pillow before 13 refuses a side that rounds to 0 (dsvl pads)
      const bool gundam = key.starts_with("gundam");
      const auto& processor = key == "gundam_max6" ? max6 : max9;
      const models::OcrMode& mode = models::ocr_mode(gundam ? "gundam" : key);
      const models::ImageGrid g = processor.grid(size[0], size[1], mode);
      CAPTURE(key);
      CHECK(processor.image_token_count(g, mode) == want.get<std::int64_t>());
      if (gundam) {
        const auto tiles = c.at("gundam_tiles").at(key).get<std::vector<std::int64_t>>();
        CHECK(std::max<std::int64_t>(g.width_tiles, 1) == tiles[0]);
        CHECK(std::max<std::int64_t>(g.height_tiles, 1) == tiles[1]);
      }
    }
  }
}

TEST_CASE_TEMPLATE("DeepSeek-OCR: every mode end to end on a tiny random model", P, policies::HwyF32) {
  const DeepSeekOcrConfig cfg = tiny_config();
  models::DeepSeekOcr<P> model(cfg);
  nn::WeightRandomInit init(7);
  model.visit(init);
  const models::DeepSeekOcrProcessor processor(io::Tokenizer::from_file(kTokenizer), cfg);
  struct Case {
    const char* mode;
    std::int64_t h, w, width_tiles, height_tiles, image_tokens;
  };
  // Image tokens: (t + 1) t + 1, plus (q nw + 1)(q nh) when tiled (t, q: 8, 10, 16 or 20).
  for (const Case& c : {Case{"tiny", 300, 200, 0, 0, 73}, Case{"small", 700, 900, 0, 0, 111},
                        Case{"base", 700, 900, 0, 0, 273}, Case{"large", 300, 200, 0, 0, 421},
                        Case{"gundam", 500, 380, 0, 0, 273}, Case{"gundam", 720, 1500, 2, 1, 273 + 21 * 10},
                        Case{"gundam", 1400, 760, 1, 2, 273 + 11 * 20}}) {
    CAPTURE(c.mode);
    CAPTURE(c.w);
    models::Request r = models::Request::ask("<|grounding|>Convert the document to markdown.",
                                             {models::RequestImage::from_rgb(page(c.h, c.w))});
    r.image_mode = c.mode;
    const models::ModelInputs in = processor(r);
    REQUIRE(in.images.size() == 1);
    CHECK(in.images[0] == models::ImageGrid{c.width_tiles, c.height_tiles});
    CHECK(in.local_pixel_values.shape(0) == c.width_tiles * c.height_tiles);
    CHECK(std::count(in.input_ids.begin(), in.input_ids.end(), in.image_token_id) == c.image_tokens);
    const Tensor<float, 2> rows = model.encode_images(in);
    CHECK(rows.shape(0) == c.image_tokens);
    const Tensor<float, 2> x = model.embed(in, rows.view());
    auto cache = model.language_model().make_cache(x.shape(0) + 1);
    const Tensor<float, 2> logits = model.language_model().forward(x.view(), cache, language::LogitRows::last);
    CHECK(logits.shape(1) == cfg.language.vocab_size);
    bool finite = true;
    for (std::int64_t i = 0; i < logits.size(); ++i) finite = finite && std::isfinite(logits.data()[i]);
    CHECK(finite);
  }
  models::Request r = models::Request::ask("Free OCR.", {models::RequestImage::from_rgb(page(10, 10))});
  r.image_mode = "huge";
  CHECK_THROWS_WITH_AS(processor(r), doctest::Contains("image mode \"huge\" is not one of tiny, small"), Error);
}

namespace {

const fs::path kOcrDir = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_ocr";
const fs::path kOcrModel = kOcrDir / "tiny-ocr";
constexpr double kRelTol = 1e-4;

struct OcrCase {
  const char* name;
  const char* mode;
  const char* page;
  const char* prompt;
};
constexpr const char* kMarkdown = "<image>\n<|grounding|>Convert the document to markdown.";
constexpr OcrCase kOcrCases[] = {
    {"tiny", "tiny", "page_tall.png", kMarkdown},           {"small", "small", "page_wide.png", kMarkdown},
    {"base", "base", "page_tall.png", kMarkdown},           {"large", "large", "page_wide.png", kMarkdown},
    {"gundam_wide", "gundam", "page_wide.png", kMarkdown},  {"gundam_tall", "gundam", "page_tall.png", kMarkdown},
    {"gundam_small", "gundam", "page_small.png", kMarkdown}, {"free", "base", "page_small.png", "<image>\nFree OCR."},
};

Tensor<float, 2> copy2(View<const float, 2> x) {
  Tensor<float, 2> out({x.shape(0), x.shape(1)});
  for (std::int64_t r = 0; r < x.shape(0); ++r) std::copy_n(x.data() + r * x.stride(0), x.shape(1), out.data() + r * x.shape(1));
  return out;
}
// (C, N) channels first -> (N, C).
Tensor<float, 2> channels_last(View<const float, 2> x) {
  Tensor<float, 2> out({x.shape(1), x.shape(0)});
  for (std::int64_t c = 0; c < x.shape(0); ++c)
    for (std::int64_t n = 0; n < x.shape(1); ++n) out(n, c) = x(c, n);
  return out;
}

void check_close(const std::string& label, const Tensor<float, 2>& got, const Tensor<float, 2>& want, double& worst) {
  REQUIRE(got.shape() == want.shape());
  const double e = relative_error(got.view(), want.view());
  INFO(label << ": relative error " << e);
  CHECK(e <= kRelTol);
  worst = std::max(worst, e);
}

// The uint8 image behind normalised pixels (3, S, S) ((u8 / 255 - 0.5) / 0.5 inverted exactly):
// its per-channel row and column sums against the fixture's, `index` picking a view of a stack.
void check_sums(const ReferenceFile& ref, const std::string& name, View<const float, 3> pixels, std::int64_t index = 0) {
  const std::int64_t S = pixels.shape(1);
  std::vector<std::int64_t> rows(static_cast<std::size_t>(3 * S)), cols(rows.size());
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t y = 0; y < S; ++y)
      for (std::int64_t x = 0; x < S; ++x) {
        const auto u = static_cast<std::int64_t>(std::lround((pixels(c, y, x) * 0.5f + 0.5f) * 255.0f));
        rows[static_cast<std::size_t>(c * S + y)] += u;
        cols[static_cast<std::size_t>(c * S + x)] += u;
      }
  const auto slice = [&](const std::vector<std::int64_t>& all) {
    const auto begin = all.begin() + index * 3 * S;
    REQUIRE(all.end() - begin >= 3 * S);
    return std::vector<std::int64_t>(begin, begin + 3 * S);
  };
  CHECK_MESSAGE(rows == slice(ref.i64(name + ".row_sums")), name, " row sums of view ", index);
  CHECK_MESSAGE(cols == slice(ref.i64(name + ".col_sums")), name, " column sums of view ", index);
}

}  // namespace

TEST_CASE_TEMPLATE("DeepSeek-OCR matches the official code end to end", P, policies::ScalarF32, policies::XsimdF32,
                   policies::HwyF32) {
#if !DSVL_WITH_IMAGE
  MESSAGE("skipped: built without dsvl::image (no PNG reader)");
  return;
#endif
  REQUIRE(fs::exists(kOcrModel / "reference.safetensors"));
  ThreadPool pool(2);
  const ReferenceFile ref(kOcrModel / "reference.safetensors");
  const auto model = models::DeepSeekOcr<P>::from_directory(kOcrModel);
  const auto processor = models::DeepSeekOcrProcessor::from_directory(kOcrModel, model.config(), vision::PillowVersion::before_12_2);
  double worst = 0;
  for (const OcrCase& c : kOcrCases) {
    // The scalar kernels take minutes over the 1024 and 1280 px views: three cases cover every
    // path (a resized position table, a stretched view, tiles) for them.
    const std::string name = c.name;
    if (std::is_same_v<typename P::kernel_tag, scalar_tag> && name != "tiny" && name != "small" && name != "gundam_wide")
      continue;
    const std::string pre = name + ".";
    CAPTURE(c.name);
    models::Request r;
    r.raw_prompt = c.prompt;
    r.images = {models::RequestImage::from_file(kOcrDir / c.page)};
    r.image_mode = c.mode;
    const models::ModelInputs in = processor(r, pool);
    CHECK(in.input_ids == as_i32(ref.i64(pre + "input_ids")));
    const auto crop = ref.i64(pre + "images_spatial_crop");
    const std::int64_t m = in.images[0].width_tiles * in.images[0].height_tiles;
    CHECK(std::max<std::int64_t>(in.images[0].width_tiles, 1) == crop[0]);
    CHECK(std::max<std::int64_t>(in.images[0].height_tiles, 1) == crop[1]);
    check_sums(ref, pre + "pixels.global", View<const float, 4>(in.pixel_values.view())[0]);

    // Each view through SAM and CLIP (the projector is checked through inputs_embeds, whose image
    // rows are its output); the tiny case with every intermediate, at the grid rows the fixture keeps.
    const auto run_view = [&](View<const float, 3> pixels, const std::string& key, std::int64_t tile) {
      std::map<std::string, Tensor<float, 2>> trace;
      const auto tracer = [&](std::string_view name, std::int64_t i, View<const float, 2> x) {
        std::string k = std::string(name) + (i >= 0 ? "." + std::to_string(i) : "");
        const bool sam = name == "patch_embed" || name == "block" || name == "neck" || name == "net_2" || name == "net_3";
        k = (sam ? "sam." : name == "features" ? "" : "clip.") + k;
        trace[k] = (name == "neck" || name == "net_2" || name == "net_3") ? channels_last(x) : copy2(x);
      };
      const std::int64_t K = model.sam().num_tokens_at(pixels.shape(1));
      Tensor<float, 2> projected({K, model.hidden_size()});
      model.encode_view(pixels, projected.view(), pool, tracer);
      const auto want = [&](const std::string& name) {
        Tensor<float, 2> w = want_f32(ref, pre + key + "." + name);
        if (tile < 0) return w;
        const std::int64_t rows = w.shape(0) / m;
        return copy2(View<const float, 2>(w.data() + tile * rows * w.shape(1), {rows, w.shape(1)}));
      };
      if (!ref.contains(pre + key + ".sam")) return;
      check_close(pre + key + ".sam", trace.at("sam.net_3"), want("sam"), worst);
      check_close(pre + key + ".clip", trace.at("clip.layer." + std::to_string(model.config().clip().layers - 1)),
                  want("clip"), worst);
      if (name != "tiny" || tile >= 0) return;
      // SAM's grid is 32 x 32 at 512 px; the fixture keeps its rows sam.rows (every column).
      const auto grid_rows = ref.i64(pre + "sam.rows");
      const auto at_rows = [&](const Tensor<float, 2>& x) {
        std::vector<std::int64_t> positions;
        for (const auto r : grid_rows)
          for (std::int64_t col = 0; col < 32; ++col) positions.push_back(r * 32 + col);
        return rows_at(x.view(), positions);
      };
      for (const auto& [k, x] : trace) {
        if (!ref.contains(pre + k)) continue;
        const bool grid = k.starts_with("sam.") && k != "sam.net_2";
        check_close(pre + k, grid ? at_rows(x) : copy2(x.view()), want_f32(ref, pre + k), worst);
      }
      check_close(pre + "sam.pos_embed", at_rows(model.sam().pos_embed_at(32, pool)), want_f32(ref, pre + "sam.pos_embed"),
                  worst);
    };
    run_view(View<const float, 4>(in.pixel_values.view())[0], "global", -1);
    for (std::int64_t t = 0; t < m; ++t) {
      const auto tile = View<const float, 4>(in.local_pixel_values.view())[t];
      check_sums(ref, pre + "pixels.tiles", tile, t);
      run_view(tile, "tiles", t);
    }

    // The rows that replace the image tokens, then the language model.
    const Tensor<float, 2> image = model.encode_images(in, pool);
    const Tensor<float, 2> x = model.embed(in, image.view());
    check_close(pre + "inputs_embeds", x, want_f32(ref, pre + "inputs_embeds"), worst);
    const auto& lm = model.language_model();
    const auto hidden_positions = ref.i64(pre + "hidden_positions");
    std::map<std::string, Tensor<float, 2>> hidden;
    const Overloaded tracer{[&](std::string_view name, std::int64_t layer, View<const float, 2> h) {
                              hidden[name == "layer" ? "language.layer." + std::to_string(layer) : "language.norm"] =
                                  rows_at(h, hidden_positions);
                            },
                            [](std::string_view, std::int64_t, const language::ExpertChoice&) {}};
    const std::int64_t T = x.shape(0);
    auto cache = lm.make_cache(T + 24);
    const auto logits = lm.forward(x.view(), cache, language::LogitRows::all, pool, language::MlaForm::automatic, tracer);
    for (const auto& [name, h] : hidden) check_close(pre + name, h, want_f32(ref, pre + name), worst);
    check_close(pre + "logits", rows_at(logits.view(), ref.i64(pre + "logits_positions")), want_f32(ref, pre + "logits"),
                worst);
    auto gen_cache = lm.make_cache(T + 24);
    std::vector<std::int32_t> history = in.input_ids;
    language::Sampler greedy{language::SamplingConfig{}};
    const auto tokens = language::generate(lm, x.view(), gen_cache, history, language::GenerationOptions{16, {}}, greedy, {}, pool).tokens;
    CHECK(tokens == as_i32(ref.i64(pre + "greedy_ids")));
    // 24 greedy tokens, plain and with the official no-repeat rule as vLLM applies it (n 3, window
    // 12, <td> exempt: the fixture's settings, under which it changes the tokens of 7 cases).
    const auto decode24 = [&](const language::NoRepeatNGram& rule) {
      auto c24 = lm.make_cache(T + 24);
      std::vector<std::int32_t> h = in.input_ids;
      language::SamplingConfig sampling;
      sampling.no_repeat_ngram = rule;
      language::Sampler sampler{sampling};
      return language::generate(lm, x.view(), c24, h, language::GenerationOptions{24, {}}, sampler, {}, pool).tokens;
    };
    const std::int32_t td = processor.tokenizer().token_to_id("<td>").value();
    CHECK(decode24({}) == as_i32(ref.i64(pre + "ngram_ids_plain")));
    CHECK(decode24({3, 12, {td}}) == as_i32(ref.i64(pre + "ngram_ids")));
  }
  MESSAGE("largest relative error: ", worst);
}

TEST_CASE("DeepSeek-OCR through the model shell in every weight format") {
#if !DSVL_WITH_IMAGE
  MESSAGE("skipped: built without dsvl::image (no PNG reader)");
  return;
#endif
  // The Gundam case with tiles: the logits at the prompt's last position in each format against
  // f32. Bounds: bf16 rounds each weight by up to 2^-9 relative, q8 by a 1/254 step of its group's
  // largest weight, q4 by a 1/14 step, about 16 times q8's; measured (printed): 0.007, 0.015 (0.020
  // with the vision side in q8), 0.32 for q4 on this 64-wide random model.
  models::Request r;
  r.raw_prompt = kMarkdown;
  r.images = {models::RequestImage::from_file(kOcrDir / "page_wide.png")};
  r.image_mode = "gundam";
  using models::WeightFormat;
  const auto logits = [&](WeightFormat weights, WeightFormat vision) {
    models::ModelOptions options;
    options.weights = weights;
    options.vision_weights = vision;
    options.pillow = vision::PillowVersion::before_12_2;
    const auto model = models::open_model(kOcrModel, options);
    CHECK(model.generation() == "DeepSeek-OCR");
    const auto prompt = model.encode(r);
    auto cache = model.make_cache(prompt.inputs_embeds.shape(0) + 1);
    return model.prefill(prompt, cache);
  };
  const Tensor<float, 2> f32 = logits(WeightFormat::automatic, WeightFormat::automatic);
  struct Format {
    WeightFormat weights, vision;
    double bound;
  };
  for (const Format f : {Format{WeightFormat::bf16, WeightFormat::automatic, 0.02},
                         Format{WeightFormat::q8, WeightFormat::automatic, 0.05},
                         Format{WeightFormat::q8, WeightFormat::q8, 0.05},
                         Format{WeightFormat::q4, WeightFormat::q4, 0.5}}) {
    CAPTURE(models::weight_format_name(f.weights));
    CAPTURE(models::weight_format_name(f.vision));
    const double e = relative_error(logits(f.weights, f.vision).view(), f32.view());
    MESSAGE(models::weight_format_name(f.weights), " / vision ", models::weight_format_name(f.vision),
            ": logits within ", e, " of f32's scale");
    CHECK(e <= f.bound);
  }
}
