// DeepSeek-OCR: the config (the published config.json and the preset), the registry's choice
// between DeepSeek-OCR and DeepSeek-VL2, the Gundam tiling rule, and every mode end to end on a
// tiny random-weight model (token counts, layout, shapes).

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/io/safetensors.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/models/deepseek_ocr.hpp"
#include "dsvl/models/deepseek_ocr_entry.hpp"
#include "dsvl/models/deepseek_ocr_processor.hpp"
#include "dsvl/models/deepseek_vl2_entry.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/aspect_ratio_tiling.hpp"

using namespace dsvl;
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
  "language_config": {"architectures": ["DeepseekOCRForCausalLM"], "bos_token_id": 0, "eos_token_id": 1,
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
