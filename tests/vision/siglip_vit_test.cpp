// SiglipVit against timm (tests/data/siglip/, written by tools/reference/siglip_vit.py), the
// presets and config readers against the real configs, and the weight names against the real
// DeepSeek-VL2 checkpoint index.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/io/json.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/siglip_vit.hpp"
#include "dsvl/vision/vision_name_tables.hpp"
#include "dsvl/vision/vit_config.hpp"
#include "shared_data.hpp"
#include "reference_fixture.hpp"

using namespace dsvl;
using dsvl::test::ReferenceFile;
using dsvl::test::relative_error;
using dsvl::test::weight_name;
using vision::SiglipVit;
using vision::VitConfig;

namespace {

namespace fs = std::filesystem;

fs::path fixture_dir(const std::string& variant) { return fs::path(DSVL_TEST_DATA_DIR) / "siglip" / variant; }

// The tower's config as a program reads it: v1 looks the sizes up by model_name (the fixture
// carries its name-table entry), VL2 has them in vision_config.
VitConfig read_config(const std::string& variant, const nlohmann::json& j) {
  const std::string where = (fixture_dir(variant) / "config.json").string();
  if (variant.starts_with("v1")) {
    const auto& table_entry = j.at("model_config");
    const std::string name = table_entry.begin().key();
    const auto& e = table_entry.begin().value();
    const VitConfig sizes{e.at("image_size"), e.at("patch_size"), e.at("width"), e.at("layers"),
                          e.at("heads"),      e.at("mlp_ratio"),  -1,           1e-6,          true};
    const vision::NamedVitConfig table[] = {{name, sizes}};
    return vision::parse_siglip_config_v1(j.at("vision_config"), where, table);
  }
  return vision::parse_siglip_config_vl2(j.at("vision_config"), where);
}


// f32 weights: every policy computes the same f32 math as PyTorch, only the order of additions
// differs (observed error below 1e-6 of the output's range).
// bf16 weights: loading an f32 checkpoint into bf16 rounds the matrices, the patch kernel and the
// LayerNorm parameters (relative error up to 2^-9); PyTorch's output with every parameter rounded
// to bf16 moves by bf16_weights_deviation (4.4e-3 and 6.5e-3 of the output's range for these
// fixtures, recorded by the script). The bound allows three times that deviation; the errors
// observed are about the same size as the recorded deviations.
// q8 and q4 weights: the four matrices of each block are rounded per group of 32 (each weight
// moves by up to half a step: q8 max|w| / 254, q4 max|w| / 16 of its group), and the Highway
// policy's int8 GEMM also rounds the activations to int8 per group. Measured, as a share of the
// output's range: q8 0.0097-0.011 (scalar, weights only) and 0.016-0.022 (Highway); q4
// 0.146-0.176 (both). The bounds are about 1.6x those. These towers are 36 wide with Gaussian
// random weights, so their second group holds 4 weights; the errors on a trained model are the
// demo's (tests/models/shapes_vl_test.cpp).
template <class P>
double tolerance(const nlohmann::json& config) {
  using W = typename P::weight_type;
  if constexpr (std::is_same_v<W, float>) return 1e-4;
  else if constexpr (is_quant_format_v<W>) return W::bits == 8 ? 0.035 : 0.27;
  else return 3.0 * config.at("bf16_weights_deviation").get<double>();
}

template <class P>
void check_fixture(const std::string& variant) {
  CAPTURE(variant);
  CAPTURE(P::kernel_tag::name);
  const fs::path dir = fixture_dir(variant);
  const auto config_json = io::read_json(dir / "config.json");
  const VitConfig cfg = read_config(variant, config_json);
  // The reader picks the GELU the fixture was made with (v1's config.json predates the
  // "activation" key: exact GELU).
  CHECK(cfg.gelu_tanh == (config_json.value("activation", std::string("gelu")) == "gelu_tanh"));
  const auto prefix = config_json.at("prefix").get<std::string>();
  const auto ckpt = io::Checkpoint::open(dir / "model.safetensors");
  const auto ref = io::Checkpoint::open(dir / "reference.safetensors");
  const double tol = tolerance<P>(config_json);

  SiglipVit<P> vit(cfg);
  vit.load(ckpt, prefix);
  const auto pixels = ref.view<float, 4>("pixel_values");
  const std::int64_t B = pixels.shape(0), N = cfg.num_patches(), D = cfg.width;
  REQUIRE(B == config_json.at("batch").get<std::int64_t>());

  // The batch, with every intermediate the fixture names.
  ThreadPool pool(2);
  Tensor<float, 3> out({B, N, D});
  double worst = 0;
  int observed = 0;
  vit.forward(pixels, out.view(), pool, [&](std::string_view name, std::int64_t layer, View<const float, 3> got) {
    std::string key(name);
    if (layer >= 0) key += "." + std::to_string(layer);
    CAPTURE(key);
    REQUIRE(got.shape(0) == B);
    for (std::int64_t image = 0; image < B; ++image) {
      CAPTURE(image);
      const double e = relative_error(got[image], ref.view<float, 3>(key)[image]);
      CHECK(e <= tol);
      worst = std::max(worst, e);
    }
    ++observed;
  });
  CHECK(observed == 2 + cfg.layers);
  const auto want = ref.view<float, 3>("norm");
  for (std::int64_t b = 0; b < B; ++b) {
    const double e = relative_error(out.view()[b], want[b]);
    CHECK(e <= tol);
    worst = std::max(worst, e);
  }
  const std::string label = variant + " " + std::string(P::kernel_tag::name) + " " + weight_name<typename P::weight_type>();
  MESSAGE(label, ": max error ", worst, " of the output's range (bound ", tol, ")");

  // One image at a time gives the batch's result (the GEMMs differ only in their row count).
  for (std::int64_t b = 0; b < B; ++b) {
    const Tensor<float, 2> one = vit.forward(pixels[b], pool);
    CHECK(relative_error(one.view(), want[b]) <= tol);
  }

  // select_layer: the first layers + select_layer + 1 blocks, then the final norm; the blocks
  // past them are declared unused.
  for (const auto& k : config_json.at("select_layers")) {
    VitConfig c = cfg;
    c.select_layer = k.get<std::int64_t>();
    CAPTURE(c.select_layer);
    SiglipVit<P> part(c);
    CHECK(static_cast<std::int64_t>(part.blocks().size()) == c.depth());
    part.load(ckpt, prefix);
    const Tensor<float, 3> got = part.forward(pixels, pool);
    const auto expect = ref.view<float, 3>("select_layer." + std::to_string(c.select_layer));
    for (std::int64_t b = 0; b < B; ++b) CHECK(relative_error(got.view()[b], expect[b]) <= tol);
  }
}

const std::string kVariants[] = {"v1-patch16", "vl2-patch14"};

}  // namespace

TEST_CASE("VitConfig presets: SigLIP-L/16 and SigLIP-SO400M/14 at 384") {
  constexpr VitConfig l = vision::kSiglipLarge16_384;
  static_assert(l.grid() == 24 && l.num_patches() == 576 && l.head_dim() == 64 && l.mlp_dim() == 4096 &&
                l.depth() == 24);
  constexpr VitConfig so = vision::kSiglipSo400m14_384;
  static_assert(so.grid() == 27 && so.num_patches() == 729 && so.head_dim() == 72 && so.mlp_dim() == 4304 &&
                so.depth() == 27);
  CHECK(vision::to_string(so) ==
        "VitConfig{image_size=384, patch_size=14, width=1152, layers=27, heads=16, mlp_ratio=3.7362, select_layer=-1, "
        "layer_norm_eps=1e-06, final_norm=true, gelu_tanh=true}");
  CHECK(vision::to_string(l) ==
        "VitConfig{image_size=384, patch_size=16, width=1024, layers=24, heads=16, mlp_ratio=4, select_layer=-1, "
        "layer_norm_eps=1e-06, final_norm=true, gelu_tanh=false}");

  // select_layer as DeepSeek-VL's create_siglip_vit reads it.
  VitConfig c = l;
  const std::pair<std::int64_t, std::int64_t> depths[] = {{-1, 24}, {-2, 23}, {0, 24}, {-24, 1},
                                                          {-30, 0}, {6, 6},   {30, 24}};
  for (auto [select, depth] : depths) {
    c.select_layer = select;
    CHECK(c.depth() == depth);
  }
}

TEST_CASE("VitConfig readers: DeepSeek-VL vision_config and DeepSeek-VL2 config.json") {
  // deepseek-vl-1.3b-chat and the low-resolution branch of deepseek-vl-7b-chat (spec 1.1).
  const auto v1 = nlohmann::json::parse(R"({"cls": "CLIPVisionTower", "model_type": "vision", "params": {
      "image_size": 384, "model_name": "siglip_large_patch16_384", "pixel_mean": [0.5, 0.5, 0.5],
      "pixel_std": [0.5, 0.5, 0.5], "select_feature": "same", "select_layer": -1}})");
  CHECK(vision::parse_siglip_config_v1(v1, "1.3b") == vision::kSiglipLarge16_384);
  const auto hybrid = nlohmann::json::parse(R"({"cls": "HybridVisionTower", "model_type": "vision", "params": {
      "concat_type": "tuple", "freeze_high": true, "freeze_low": true,
      "high_res_cfg": {"model_name": "sam_b_downsample", "image_size": 1024, "select_layer": -1},
      "low_res_cfg": {"model_name": "siglip_large_patch16_384", "image_size": 384, "select_feature": "same",
                      "select_layer": -1, "output_dim": 1024, "ckpt_path": ""}}})");
  CHECK(vision::parse_siglip_config_v1(hybrid, "7b") == vision::kSiglipLarge16_384);

  auto bad = v1;
  bad["params"]["model_name"] = "siglip_huge";
  CHECK_THROWS_WITH(vision::parse_siglip_config_v1(bad, "cfg"),
                    doctest::Contains("'params/model_name' is \"siglip_huge\", which is not a known SigLIP model"));
  bad = v1;
  bad["params"]["select_feature"] = "patch";
  CHECK_THROWS_WITH(vision::parse_siglip_config_v1(bad, "cfg"), doctest::Contains("only \"same\""));
  bad = v1;
  bad["params"].erase("image_size");
  CHECK_THROWS_WITH(vision::parse_siglip_config_v1(bad, "cfg"), doctest::Contains("missing field 'params/image_size'"));

  // DeepSeek-VL2's vision_config as the released configs write it: SO400M, with the tanh GELU
  // (DeepSeek-VL's reader above keeps the exact GELU).
  const auto vl2_vision = nlohmann::json::parse(R"({"layers": 27, "mlp_ratio": 3.7362, "model_name":
      "siglip_so400m_patch14_384", "model_type": "vision", "patch_size": 14, "width": 1152})");
  const VitConfig so = vision::parse_siglip_config_vl2(vl2_vision, "vl2");
  CHECK(so == vision::kSiglipSo400m14_384);
  CHECK(so.gelu_tanh);
  CHECK_FALSE(vision::parse_siglip_config_v1(v1, "1.3b").gelu_tanh);

  // The real DeepSeek-VL2 config.json (heads and image_size absent: the class defaults).
  const fs::path vl2 = test::shared_data("tokenizers/deepseek-vl2/config.json");
  if (vl2.empty()) {
    MESSAGE("skipped: shared data tokenizers/deepseek-vl2/config.json not found");
    return;
  }
  const auto j = io::read_json(vl2);
  CHECK(vision::parse_siglip_config_vl2(j.at("vision_config"), vl2.string()) == vision::kSiglipSo400m14_384);
}

TEST_CASE("SiglipVit: the SO400M preset declares the names and shapes of the DeepSeek-VL2 checkpoint") {
  SiglipVit<policies::ScalarBF16> vit(vision::kSiglipSo400m14_384);
  nn::WeightNames names;
  vit.visit(names);
  std::set<std::string> declared;
  for (const auto& e : names.entries) declared.insert("vision." + e.name);
  CHECK(declared.size() == names.entries.size());
  CHECK(declared.size() == 3 + 27 * 12 + 2);
  nn::WeightCount count;
  vit.visit(count);
  CHECK(count.count == 412987248);  // without attn_pool

  const auto shape_of = [&](const std::string& n) {
    for (const auto& e : names.entries)
      if ("vision." + e.name == n) return e.shape;
    return std::vector<std::int64_t>{};
  };
  CHECK(shape_of("vision.pos_embed") == std::vector<std::int64_t>{1, 729, 1152});
  CHECK(shape_of("vision.patch_embed.proj.weight") == std::vector<std::int64_t>{1152, 3, 14, 14});
  CHECK(shape_of("vision.blocks.26.attn.qkv.weight") == std::vector<std::int64_t>{3456, 1152});
  CHECK(shape_of("vision.blocks.0.mlp.fc1.weight") == std::vector<std::int64_t>{4304, 1152});
  CHECK(shape_of("vision.blocks.0.mlp.fc2.weight") == std::vector<std::int64_t>{1152, 4304});

  const fs::path index = test::shared_data("tokenizers/deepseek-vl2/model.safetensors.index.json");
  if (index.empty()) {
    MESSAGE("skipped: shared data tokenizers/deepseek-vl2/model.safetensors.index.json not found");
    return;
  }
  std::set<std::string> in_index;
  for (const auto& [name, shard] : io::read_safetensors_index(index))
    if (name.starts_with("vision.") && !name.starts_with("vision.attn_pool.")) in_index.insert(name);
  CHECK(declared == in_index);
}

TEST_CASE("SiglipVit: a missing, misshapen or unexpected tensor is named by the loader") {
  const fs::path dir = fixture_dir("vl2-patch14");
  const auto config_json = io::read_json(dir / "config.json");
  const VitConfig cfg = read_config("vl2-patch14", config_json);
  const auto good = io::Checkpoint::open(dir / "model.safetensors");

  const fs::path path = fs::temp_directory_path() / ("dsvl_siglip_" + std::to_string(::getpid()) + ".safetensors");
  {
    io::SafeTensorsWriter w;
    for (const auto name : good.names()) {
      const std::string n(name);
      if (n == "vision.blocks.1.mlp.fc1.bias") continue;  // missing
      if (n == "vision.blocks.0.attn.qkv.weight") {     // wrong shape: one row short
        const auto v = good.view<float, 2>(n);
        w.add(n, v.slice(0, 0, v.shape(0) - 1));
        continue;
      }
      const auto& info = good.info(n);
      if (info.shape.size() == 1) w.add(n, good.view<float, 1>(n));
      else if (info.shape.size() == 2) w.add(n, good.view<float, 2>(n));
      else if (info.shape.size() == 3) w.add(n, good.view<float, 3>(n));
      else w.add(n, good.view<float, 4>(n));
    }
    w.add("vision.blocks.3.norm1.weight", good.view<float, 1>("vision.norm.weight"));  // unexpected
    w.add("vision.attn_pool.extra", good.view<float, 1>("vision.norm.weight"));          // unused head
    w.write(path);
  }
  const auto bad = io::Checkpoint::open(path);
  SiglipVit<policies::XsimdF32> vit(cfg);
  try {
    vit.load(bad, "vision.");
    FAIL("no error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("3 problem(s) with the weights") != std::string::npos);
    CHECK(msg.find("tensor 'vision.blocks.0.attn.qkv.weight' has shape [107, 36], expected [108, 36]") !=
          std::string::npos);
    CHECK(msg.find("missing tensor 'vision.blocks.1.mlp.fc1.bias' [134]") != std::string::npos);
    CHECK(msg.find("unexpected tensor 'vision.blocks.3.norm1.weight'") != std::string::npos);
    CHECK(msg.find("attn_pool") == std::string::npos);
  }
  fs::remove(path);

  // Pixels of the wrong size are refused (no pos_embed interpolation).
  vit.load(good, "vision.");
  Tensor<float, 3> pixels({3, 112, 112});
  CHECK_THROWS_WITH(vit.forward(pixels.view()), doctest::Contains("expected (B, 3, 104, 104)"));
}

TEST_CASE_TEMPLATE("SiglipVit matches timm's VisionTransformer (DeepSeek-VL and DeepSeek-VL2 settings)", P,
                   policies::ScalarF32, policies::ScalarBF16, policies::XsimdF32, policies::XsimdBF16,
                   policies::HwyF32, policies::HwyBF16, policies::ScalarQ8, policies::ScalarQ4, policies::HwyQ8,
                   policies::HwyQ4) {
  for (const auto& variant : kVariants) check_fixture<P>(variant);
}

TEST_CASE("SiglipVit with a compile-time preset gives the run-time result and refuses other sizes") {
  // The sizes of tests/data/siglip/vl2-patch14, fixed at compile time.
  static constexpr VitConfig kTiny{104, 14, 36, 3, 2, 3.7362, -1, 1e-6, true, true};
  const fs::path dir = fixture_dir("vl2-patch14");
  const VitConfig cfg = read_config("vl2-patch14", io::read_json(dir / "config.json"));
  REQUIRE(cfg == kTiny);
  const auto ckpt = io::Checkpoint::open(dir / "model.safetensors");
  const auto ref = io::Checkpoint::open(dir / "reference.safetensors");

  using Fixed = SiglipVit<policies::XsimdF32, kTiny>;
  static_assert(Fixed::is_fixed && !SiglipVit<policies::XsimdF32>::is_fixed);
  Fixed fixed;
  fixed.load(ckpt, "vision.");
  SiglipVit<policies::XsimdF32> dynamic(cfg);
  dynamic.load(ckpt, "vision.");
  ThreadPool pool(2);
  const auto pixels = ref.view<float, 4>("pixel_values");
  const Tensor<float, 3> a = fixed.forward(pixels, pool), b = dynamic.forward(pixels, pool);
  CHECK(std::equal(a.data(), a.data() + a.size(), b.data()));

  VitConfig other = kTiny;
  other.width = 40;
  other.heads = 4;
  CHECK_THROWS_WITH(Fixed{other},
                    doctest::Contains("field 'width' is 40 but the compile-time VitConfig fixes it to 36"));
  other = kTiny;
  other.select_layer = -2;
  CHECK_THROWS_WITH(Fixed{other}, doctest::Contains("field 'select_layer' is -2"));
}

// The official DeepSeek-VL code's tower (tests/data/deepseek_vl/tiny-siglip, written by
// tools/reference/deepseek_vl_v1.py): sizes from its name table, the processor's uint8 pixels
// normalised as CLIPVisionTower does ((x / 255 - 0.5) / 0.5), the weights under the 1.3B prefix.
TEST_CASE_TEMPLATE("SiglipVit matches the official DeepSeek-VL code's SigLIP tower", P, policies::ScalarF32,
                   policies::XsimdF32, policies::HwyF32) {
  const fs::path dir = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl";
  const fs::path model_dir = dir / "tiny-siglip";
  if (!fs::exists(model_dir / "reference.safetensors")) {
    MESSAGE("skipped: tests/data/deepseek_vl/tiny-siglip not found");
    return;
  }
  const auto tables = vision::VisionNameTables::read(dir / "vision_models.json");
  const auto config = io::read_json(model_dir / "config.json");
  const VitConfig cfg =
      vision::parse_siglip_config_v1(config.at("vision_config"), (model_dir / "config.json").string(),
                                      tables.siglip());
  const auto params = config.at("vision_config").at("params");
  const auto ckpt = io::Checkpoint::open(model_dir / "model.safetensors");
  const ReferenceFile ref(model_dir / "reference.safetensors");
  const std::int64_t S = cfg.image_size, N = cfg.num_patches(), D = cfg.width;

  SiglipVit<P> vit(cfg);
  vit.load(ckpt, "vision_model.vision_tower.");
  const auto* u8 = reinterpret_cast<const unsigned char*>(ref.data("one_image.pixel_values.u8", "U8", {1, 3, S, S}));
  Tensor<float, 3> pixels({3, S, S});
  for (std::int64_t c = 0; c < 3; ++c) {
    const float mean = params.at("pixel_mean")[c].get<float>(), sd = params.at("pixel_std")[c].get<float>();
    for (std::int64_t i = 0; i < S * S; ++i)
      pixels.data()[c * S * S + i] = (static_cast<float>(u8[c * S * S + i]) / 255.0f - mean) / sd;
  }
  ThreadPool pool(2);
  Tensor<float, 2> out({N, D});
  int observed = 0;
  vit.forward(std::as_const(pixels).view(), out.view(), pool,
              [&](std::string_view name, std::int64_t layer, View<const float, 3> got) {
                std::string key = "one_image.vision.siglip." + std::string(name);
                if (layer >= 0) key += "." + std::to_string(layer);
                CAPTURE(key);
                REQUIRE(got.shape(0) == 1);
                CHECK(relative_error(got[0], ref.f32(key, {1, N, D}, N).view()) <= 1e-4);
                ++observed;
              });
  CHECK(observed == 2 + cfg.layers);
  const double e = relative_error(out.view(), ref.f32("one_image.vision.siglip.norm", {1, N, D}, N).view());
  CHECK(e <= 1e-4);
  MESSAGE("official DeepSeek-VL tower, ", std::string(P::kernel_tag::name), " f32: max error ", e);
}
