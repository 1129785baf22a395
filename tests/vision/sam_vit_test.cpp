// SamVit against the official DeepSeek-VL code's high-resolution tower
// (tests/data/deepseek_vl/tiny-hybrid, written by tools/reference/deepseek_vl_v1.py): the blocks
// from the stored patch embedding, the neck, downsamples and the branch output from the stored
// block outputs; the patch embedding against a direct loop; the SamConfig preset and reader; the
// weight names of DeepSeek-VL 7B and the loader's errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/io/json.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/sam_config.hpp"
#include "dsvl/vision/pixel_norm.hpp"
#include "dsvl/vision/sam_vit.hpp"
#include "dsvl/vision/vision_name_tables.hpp"
#include "reference_fixture.hpp"

using namespace dsvl;
using dsvl::test::ReferenceFile;
using dsvl::test::relative_error;
using vision::SamConfig;
using vision::SamVit;

namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl";
const fs::path kModel = kDir / "tiny-hybrid";
const std::string kPrefix = "vision_model.vision_tower_high.vision_tower.";

// The official name tables with the tiny entries the fixture adds.
vision::VisionNameTables read_tables() { return vision::VisionNameTables::read(kDir / "vision_models.json"); }

SamConfig read_tiny_config() {
  const auto tables = read_tables();
  const auto config = io::read_json(kModel / "config.json");
  return vision::parse_sam_config_v1(config.at("vision_config"), (kModel / "config.json").string(), tables.sam());
}

// The tiny tower of the fixture, its weights borrowed from `ckpt`.
template <class P>
SamVit<P> loaded_tower(const SamConfig& cfg, const io::Checkpoint& ckpt) {
  SamVit<P> sam(cfg);
  sam.load(ckpt, kPrefix);
  return sam;
}

// Every intermediate the fixture holds, computed by `sam`: the blocks chained from the stored
// patch embedding ("block.<i>"), the neck, downsamples and the output from the stored block
// outputs ("neck", "neck_hd", "downsamples", "downsamples_hd", "high"), and the output from its own
// block outputs ("high.chained").
template <class P>
std::map<std::string, Tensor<float, 2>> run_tower(const SamVit<P>& sam, const ReferenceFile& ref, ThreadPool& pool) {
  const SamConfig& cfg = sam.config();
  const std::int64_t G = cfg.grid(), N = G * G, D = cfg.width, K = cfg.num_tokens(), C2 = cfg.out_dim();
  const std::string key = "one_image.vision.sam.";
  std::map<std::string, Tensor<float, 2>> got;
  Tensor<float, 2> x = ref.f32(key + "patch_embed", {1, G, G, D}, N), tap({N, D});
  sam.add_pos_embed(x.view(), pool);
  for (std::int64_t i = 0; i < cfg.layers; ++i) {
    sam.block(i, x.view(), pool);
    got["block." + std::to_string(i)] = Tensor<float, 2>({N, D});
    std::copy_n(x.data(), x.size(), got["block." + std::to_string(i)].data());
  }
  const auto last = ref.f32(key + "block." + std::to_string(cfg.layers - 1), {1, G, G, D}, N);
  const auto hd = ref.f32(key + "block." + std::to_string(cfg.hd_block()), {1, G, G, D}, N);
  got["high"] = Tensor<float, 2>({K, C2});
  sam.head(last.view(), hd.view(), got["high"].view(), pool,
           [&](std::string_view name, std::int64_t, View<const float, 2> t) {
             Tensor<float, 2> copy({t.shape(0), t.shape(1)});
             std::copy_n(t.data(), copy.size(), copy.data());
             got[std::string(name)] = std::move(copy);
           });
  got["high.chained"] = Tensor<float, 2>({K, C2});
  sam.head(std::as_const(x).view(), std::as_const(got["block." + std::to_string(cfg.hd_block())]).view(),
           got["high.chained"].view(), pool);
  return got;
}

// The official tensor for a name of run_tower.
Tensor<float, 2> reference(const ReferenceFile& ref, const SamConfig& cfg, const std::string& name) {
  const std::int64_t G = cfg.grid(), N = G * G, D = cfg.width, C = cfg.prompt_embed_dim, C2 = cfg.out_dim();
  const std::int64_t K = cfg.num_tokens(), O = cfg.out_grid();
  const std::string key = "one_image.vision.sam.";
  if (name.starts_with("block.")) return ref.f32(key + name, {1, G, G, D}, N);
  if (name.starts_with("neck")) return ref.f32(key + name, {1, C, G, G}, C);
  if (name.starts_with("downsamples")) return ref.f32(key + name, {1, C2, O, O}, C2);
  return ref.f32("one_image.vision.high", {1, K, C2}, K);
}

// A copy of the tower's tensors in `ckpt` with those that a bf16 policy stores as bf16 (matrices,
// convolution kernels, LayerNorm parameters) rounded to bf16, as the loader rounds them; biases,
// pos_embed, the rel-pos tables and hd_alpha_downsamples stay f32.
void write_bf16_rounded(const io::Checkpoint& ckpt, const fs::path& path) {
  io::SafeTensorsWriter w;
  std::vector<std::unique_ptr<Tensor<float, 1>>> keep;
  for (const auto name : ckpt.names()) {
    const std::string n(name);
    if (!n.starts_with(kPrefix)) continue;
    const auto& info = ckpt.info(n);
    std::int64_t size = 1;
    for (auto s : info.shape) size *= s;
    const bool stays_f32 = (n.ends_with(".bias") && info.shape.size() == 1 && !n.ends_with("norm1.bias") &&
                            !n.ends_with("norm2.bias") && !n.ends_with(".1.bias") && !n.ends_with(".3.bias")) ||
                           n.ends_with("pos_embed") || n.find("rel_pos") != std::string::npos ||
                           n.ends_with("hd_alpha_downsamples");
    auto t = std::make_unique<Tensor<float, 1>>(std::array<std::int64_t, 1>{size});
    const float* src = info.shape.size() == 1   ? ckpt.view<float, 1>(n).data()
                       : info.shape.size() == 2 ? ckpt.view<float, 2>(n).data()
                       : info.shape.size() == 3 ? ckpt.view<float, 3>(n).data()
                                                : ckpt.view<float, 4>(n).data();
    std::memcpy(t->data(), src, sizeof(float) * static_cast<std::size_t>(size));
    if (!stays_f32)
      for (std::int64_t i = 0; i < size; ++i) t->data()[i] = static_cast<float>(bf16::from_float(t->data()[i]));
    const float* d = t->data();
    switch (info.shape.size()) {
      case 1: w.add(n, View<const float, 1>(d, {info.shape[0]})); break;
      case 2: w.add(n, View<const float, 2>(d, {info.shape[0], info.shape[1]})); break;
      case 3: w.add(n, View<const float, 3>(d, {info.shape[0], info.shape[1], info.shape[2]})); break;
      default: w.add(n, View<const float, 4>(d, {info.shape[0], info.shape[1], info.shape[2], info.shape[3]}));
    }
    keep.push_back(std::move(t));
  }
  w.write(path);
}

template <class P>
std::string label() {
  return std::string(P::kernel_tag::name) + " " + dsvl::test::weight_name<typename P::weight_type>();
}

}  // namespace

TEST_CASE("SamConfig: the sam_b_downsample preset of DeepSeek-VL 7B and the config reader") {
  const SamConfig b = vision::kSamBDownsample;
  CHECK(b.grid() == 64);
  CHECK(b.head_dim() == 64);
  CHECK(b.mlp_dim() == 3072);
  CHECK(b.padded_grid() == 70);
  CHECK(b.hd_block() == 2);
  CHECK(b.rel_pos_len(0) == 27);
  CHECK(b.rel_pos_len(2) == 127);
  CHECK(b.mid_grid() == 48);
  CHECK(b.out_grid() == 24);
  CHECK(b.num_tokens() == 576);
  CHECK(b.out_dim() == 1024);
  CHECK(vision::to_string(b) ==
        "SamConfig{image_size=1024, patch_size=16, width=768, layers=12, heads=12, mlp_ratio=4, window_size=14, "
        "global_attn_indexes=[2, 5, 8, 11], prompt_embed_dim=256, downsample_channels=[512, 1024], neck_resize=96, "
        "layer_norm_eps=1e-06, layer_norm2d_eps=1e-06, hd_branch=true}");

  // deepseek-vl-7b-chat's vision_config (spec 1.1).
  const auto hybrid = nlohmann::json::parse(R"({"cls": "HybridVisionTower", "model_type": "vision", "params": {
      "concat_type": "tuple", "freeze_high": true, "freeze_low": true,
      "high_res_cfg": {"model_name": "sam_b_downsample", "image_size": 1024, "select_feature": "same",
                       "select_layer": -1, "output_dim": 1024, "ckpt_path": "",
                       "pixel_mean": [0.48145466, 0.4578275, 0.40821073],
                       "pixel_std": [0.26862954, 0.26130258, 0.27577711]},
      "low_res_cfg": {"model_name": "siglip_large_patch16_384", "image_size": 384}}})");
  CHECK(vision::parse_sam_config_v1(hybrid, "7b") == b);

  // The official table as vision_models.json records it gives the same preset.
  const auto tables = read_tables();
  bool found = false;
  for (const auto& e : tables.sam())
    if (e.model_name == "sam_b_downsample") {
      CHECK(e.config == b);
      found = true;
    }
  CHECK(found);

  // The fixture's tiny tower.
  const SamConfig tiny = read_tiny_config();
  CHECK(tiny.width == 16);
  CHECK(tiny.layers == 4);
  CHECK(tiny.heads == 2);
  CHECK(tiny.global_attn_indexes == InlineList<std::int64_t, 16>{1, 3});
  CHECK(tiny.hd_block() == 1);
  CHECK(tiny.prompt_embed_dim == 8);
  CHECK(tiny.downsample_channels == std::array<std::int64_t, 2>{24, 32});

  auto bad = hybrid;
  bad["params"]["high_res_cfg"]["model_name"] = "sam_vit_b";
  CHECK_THROWS_WITH(vision::parse_sam_config_v1(bad, "cfg"),
                    doctest::Contains("'params/high_res_cfg/model_name' is \"sam_vit_b\", which is not a known SAM"));
  bad = hybrid;
  bad["params"]["high_res_cfg"]["select_feature"] = "patch";
  CHECK_THROWS_WITH(vision::parse_sam_config_v1(bad, "cfg"), doctest::Contains("only \"same\""));
  bad = hybrid;
  bad["params"]["high_res_cfg"].erase("image_size");
  CHECK_THROWS_WITH(vision::parse_sam_config_v1(bad, "cfg"),
                    doctest::Contains("missing field 'params/high_res_cfg/image_size'"));
  bad = hybrid;
  bad["cls"] = "CLIPVisionTower";
  CHECK_THROWS_WITH(vision::parse_sam_config_v1(bad, "cfg"), doctest::Contains("expected \"HybridVisionTower\""));
}

TEST_CASE("SamVit: sam_b_downsample declares the names and shapes of DeepSeek-VL 7B's high-resolution tower") {
  SamVit<policies::ScalarBF16> sam(vision::kSamBDownsample);
  nn::WeightNames names;
  sam.visit(names);
  std::set<std::string> declared;
  for (const auto& e : names.entries) declared.insert(e.name);
  CHECK(declared.size() == names.entries.size());
  CHECK(declared.size() == 3 + 12 * 14 + 2 * 6 + 3);
  nn::WeightCount count;
  sam.visit(count);
  CHECK(count.count == 96356609);

  const auto shape_of = [&](const std::string& n) {
    for (const auto& e : names.entries)
      if (e.name == n) return e.shape;
    return std::vector<std::int64_t>{};
  };
  using S = std::vector<std::int64_t>;
  CHECK(shape_of("pos_embed") == S{1, 64, 64, 768});
  CHECK(shape_of("patch_embed.proj.weight") == S{768, 3, 16, 16});
  CHECK(shape_of("blocks.0.attn.rel_pos_h") == S{27, 64});
  CHECK(shape_of("blocks.2.attn.rel_pos_w") == S{127, 64});
  CHECK(shape_of("blocks.11.attn.rel_pos_h") == S{127, 64});
  CHECK(shape_of("blocks.10.attn.qkv.weight") == S{2304, 768});
  CHECK(shape_of("blocks.0.mlp.lin1.weight") == S{3072, 768});
  CHECK(shape_of("neck.0.weight") == S{256, 768, 1, 1});
  CHECK(shape_of("neck_hd.2.weight") == S{256, 256, 3, 3});
  CHECK(shape_of("neck_hd.3.bias") == S{256});
  CHECK(shape_of("downsamples.0.weight") == S{512, 256, 3, 3});
  CHECK(shape_of("downsamples.1.weight") == S{1024, 512, 3, 3});
  CHECK(shape_of("hd_alpha_downsamples") == S{1});
}

// f32 weights: the same f32 math as PyTorch in another order of additions; every tensor within
// 1e-4 of its range.
// bf16 weights: loading the f32 checkpoint into bf16 rounds the matrices, convolution kernels and
// LayerNorm parameters (relative error up to 2^-9 each), which moves the result by however much
// the network amplifies that rounding: with only 8 channels per LayerNorm2d the neck moves by about
// 1.1e-2 of its range. That deviation d is measured here, tensor by tensor, by the scalar f32 policy
// on a copy of the checkpoint rounded as the loader rounds it; the bf16 policy must match that run
// within 1e-4 (the same weights, so only the order of additions differs) and the official output
// within d + 1e-4.
TEST_CASE_TEMPLATE("SamVit matches the official DeepSeek-VL code's SAM tower, block by block", P, policies::ScalarF32,
                   policies::ScalarBF16, policies::XsimdF32, policies::XsimdBF16, policies::HwyF32,
                   policies::HwyBF16) {
  constexpr bool is_f32 = std::is_same_v<typename P::weight_type, float>;
  const SamConfig cfg = read_tiny_config();
  const auto ckpt = io::Checkpoint::open(kModel / "model.safetensors");
  const ReferenceFile ref(kModel / "reference.safetensors");
  ThreadPool pool(2);
  const auto sam = loaded_tower<P>(cfg, ckpt);
  const auto got = run_tower(sam, ref, pool);
  CHECK(got.size() == static_cast<std::size_t>(cfg.layers + 6));

  std::map<std::string, Tensor<float, 2>> rounded;
  if constexpr (!is_f32) {
    const fs::path path = fs::temp_directory_path() / ("dsvl_sam_bf16_" + std::to_string(::getpid()) + ".safetensors");
    write_bf16_rounded(ckpt, path);
    const auto rc = io::Checkpoint::open(path);
    SamVit<policies::ScalarF32> f32(cfg);
    f32.load(rc, kPrefix);
    rounded = run_tower(f32, ref, pool);
    fs::remove(path);
  }

  double worst = 0, worst_bound = 0;
  for (const auto& tensor : got) {
    const auto& name = tensor.first;
    const auto& t = tensor.second;
    CAPTURE(name);
    const auto want = reference(ref, cfg, name.starts_with("high") ? "high" : name);
    const double e = relative_error(t.view(), want.view());
    double bound = 1e-4;
    if constexpr (!is_f32) {
      const auto& r = rounded.at(name);
      CHECK(relative_error(t.view(), r.view()) <= 1e-4);
      bound = relative_error(r.view(), want.view()) + 1e-4;
      CHECK(bound <= 2e-2);  // the rounding's own effect (measured 1.1e-2 at most, in the necks)
    }
    CHECK(e <= bound);
    worst = std::max(worst, e);
    worst_bound = std::max(worst_bound, bound);
  }
  MESSAGE("official DeepSeek-VL SAM tower, ", label<P>(), ": max error ", worst, " of a tensor's range (bound ",
          worst_bound, ")");
}

// q8 and q4: the blocks' four matrices are rounded per group of 32 (each weight by up to half a
// step: q8 max|w| / 254, q4 max|w| / 16 of its group); convolution kernels and LayerNorm
// parameters are bf16 (the bf16 case above), and the Highway policy's int8 GEMM also rounds the
// activations per group. Measured, as a share of each tensor's range: q8 0.017 (scalar, weights
// only) and 0.021 (Highway), of which bf16's rounding alone is 0.011; q4 0.25 (both). The bounds
// are about 1.6x those; the tiny tower has Gaussian random weights.
TEST_CASE_TEMPLATE("SamVit with q8 and q4 matrices stays close to the official tower", P, policies::ScalarQ8,
                   policies::HwyQ8, policies::ScalarQ4, policies::HwyQ4) {
  const SamConfig cfg = read_tiny_config();
  const auto ckpt = io::Checkpoint::open(kModel / "model.safetensors");
  const ReferenceFile ref(kModel / "reference.safetensors");
  ThreadPool pool(2);
  const auto sam = loaded_tower<P>(cfg, ckpt);
  const double bound = P::weight_type::bits == 8 ? 0.035 : 0.4;
  double worst = 0;
  for (const auto& tensor : run_tower(sam, ref, pool)) {
    const auto& name = tensor.first;
    const auto& t = tensor.second;
    CAPTURE(name);
    const double e = relative_error(t.view(), reference(ref, cfg, name.starts_with("high") ? "high" : name).view());
    CHECK(e <= bound);
    worst = std::max(worst, e);
  }
  MESSAGE("official DeepSeek-VL SAM tower, ", label<P>(), ": max error ", worst, " of a tensor's range (bound ",
          bound, ")");
}

TEST_CASE_TEMPLATE("SamVit: the patch embedding is the 16x16 stride-16 convolution, channels last", P,
                   policies::ScalarF32, policies::XsimdF32, policies::HwyF32) {
  const SamConfig cfg = read_tiny_config();
  const auto ckpt = io::Checkpoint::open(kModel / "model.safetensors");
  const auto sam = loaded_tower<P>(cfg, ckpt);
  const std::int64_t S = cfg.image_size, p = cfg.patch_size, G = cfg.grid(), D = cfg.width;
  Tensor<float, 3> pixels({3, S, S});
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (std::int64_t i = 0; i < pixels.size(); ++i) pixels.data()[i] = u(rng);

  ThreadPool pool(2);
  Tensor<float, 2> x({G * G, D});
  sam.embed(std::as_const(pixels).view(), x.view(), pool);
  const auto w = ckpt.view<float, 4>(kPrefix + "patch_embed.proj.weight");
  const auto b = ckpt.view<float, 1>(kPrefix + "patch_embed.proj.bias");
  Tensor<float, 2> want({G * G, D});
  for (std::int64_t gy = 0; gy < G; ++gy)
    for (std::int64_t gx = 0; gx < G; ++gx)
      for (std::int64_t d = 0; d < D; ++d) {
        double acc = b(d);
        for (std::int64_t c = 0; c < 3; ++c)
          for (std::int64_t i = 0; i < p; ++i)
            for (std::int64_t j = 0; j < p; ++j)
              acc += static_cast<double>(w(d, c, i, j)) * pixels(c, gy * p + i, gx * p + j);
        want(gy * G + gx, d) = static_cast<float>(acc);
      }
  CHECK(relative_error(std::as_const(x).view(), std::as_const(want).view()) <= 1e-5);

  // forward runs embed, pos_embed, the blocks and head, and shows each step to the tracer.
  std::vector<std::string> seen;
  Tensor<float, 2> out({cfg.num_tokens(), cfg.out_dim()});
  sam.forward(std::as_const(pixels).view(), out.view(), pool,
              [&](std::string_view name, std::int64_t layer, View<const float, 2> got) {
                if (name == "patch_embed") CHECK(relative_error(got, std::as_const(want).view()) <= 1e-5);
                CHECK((layer >= 0) == (name == "block"));
                seen.push_back(std::string(name) + (layer >= 0 ? std::to_string(layer) : ""));
              });
  CHECK(seen == std::vector<std::string>{"patch_embed", "block0", "block1", "block2", "block3", "neck", "downsamples",
                                         "neck_hd", "downsamples_hd"});
  for (std::int64_t i = 0; i < out.size(); ++i) REQUIRE(std::isfinite(out.data()[i]));

  Tensor<float, 3> small({3, S / 2, S / 2});
  CHECK_THROWS_WITH(sam.forward(std::as_const(small).view(), pool),
                    doctest::Contains("expected (3, 1024, 1024)"));
}

TEST_CASE("vision::normalize: the high-resolution branch's (x - mean) / std with CLIP's mean and std") {
  Tensor<float, 3> p({3, 2, 2});
  for (std::int64_t i = 0; i < p.size(); ++i) p.data()[i] = static_cast<float>(i) / 11.0f;
  vision::normalize(p.view(), vision::kClipPixelNorm);
  const double mean[3] = {0.48145466, 0.4578275, 0.40821073}, sd[3] = {0.26862954, 0.26130258, 0.27577711};
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t i = 0; i < 4; ++i) {
      const double want = (static_cast<double>(c * 4 + i) / 11.0 - mean[c]) / sd[c];
      CHECK(p.data()[c * 4 + i] == doctest::Approx(want).epsilon(1e-6));
    }
  Tensor<float, 3> gray({1, 2, 2});
  CHECK_THROWS_WITH(vision::normalize(gray.view(), vision::kClipPixelNorm), doctest::Contains("expected 3 (RGB)"));
}

TEST_CASE("SamVit: the loader names a misshapen rel-pos table and a missing tensor") {
  const SamConfig cfg = read_tiny_config();
  const auto good = io::Checkpoint::open(kModel / "model.safetensors");
  const fs::path path = fs::temp_directory_path() / ("dsvl_sam_" + std::to_string(::getpid()) + ".safetensors");
  {
    io::SafeTensorsWriter w;
    for (const auto name : good.names()) {
      const std::string n(name);
      if (!n.starts_with(kPrefix)) continue;
      if (n == kPrefix + "neck_hd.3.bias") continue;  // missing
      if (n == kPrefix + "blocks.1.attn.rel_pos_h") {  // a window-sized table in a global block
        const auto v = good.view<float, 2>(kPrefix + "blocks.0.attn.rel_pos_h");
        w.add(n, v);
        continue;
      }
      const auto& info = good.info(n);
      if (info.shape.size() == 1) w.add(n, good.view<float, 1>(n));
      else if (info.shape.size() == 2) w.add(n, good.view<float, 2>(n));
      else if (info.shape.size() == 3) w.add(n, good.view<float, 3>(n));
      else w.add(n, good.view<float, 4>(n));
    }
    w.write(path);
  }
  const auto bad = io::Checkpoint::open(path);
  SamVit<policies::XsimdF32> sam(cfg);
  try {
    sam.load(bad, kPrefix);
    FAIL("no error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("2 problem(s) with the weights") != std::string::npos);
    CHECK(msg.find("tensor '" + kPrefix + "blocks.1.attn.rel_pos_h' has shape [27, 8], expected [127, 8]") !=
          std::string::npos);
    CHECK(msg.find("missing tensor '" + kPrefix + "neck_hd.3.bias' [8]") != std::string::npos);
  }
  fs::remove(path);
}
