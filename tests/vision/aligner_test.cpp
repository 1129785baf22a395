// vision::Aligner against the official DeepSeek-VL MlpProjector (tests/data/deepseek_vl: the
// tiny-siglip "mlp_gelu" and tiny-hybrid "low_high_hybrid_split_mlp_gelu" aligners), the config
// reader, and the loader's errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/io/json.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/aligner.hpp"
#include "shared_data.hpp"
#include "reference_fixture.hpp"

using namespace dsvl;
using dsvl::test::ReferenceFile;
using dsvl::test::relative_error;
using vision::Aligner;
using vision::AlignerConfig;

namespace {

namespace fs = std::filesystem;

fs::path model_dir(const std::string& variant) { return fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl" / variant; }

AlignerConfig read_config(const std::string& variant) {
  const fs::path path = model_dir(variant) / "config.json";
  return vision::parse_aligner_config(io::read_json(path).at("aligner_config"), path.string());
}

// f32 weights: the same f32 math as PyTorch in another order of additions (measured 2.4e-7).
// bf16 weights: loading rounds each matrix entry to bf16 (relative error up to 2^-9 = 2e-3), so
// each layer's output moves by about that fraction of its range; measured 2.1e-3 (mlp_gelu) and
// 2.5e-3 / 3.1e-3 (hybrid up-projections / output). 1e-2 allows about three times the measured.
template <class P>
double tolerance() {
  if constexpr (std::is_same_v<typename P::weight_type, float>) return 1e-4;
  else return 1e-2;
}

}  // namespace

TEST_CASE("parse_aligner_config: the tiny fixtures, presets and errors") {
  const AlignerConfig s = read_config("tiny-siglip");
  CHECK(s.projector_type == AlignerConfig::Type::mlp_gelu);
  CHECK(s.depth == 2);
  CHECK(s.input_dim == 32);
  CHECK(s.n_embed == 32);
  const AlignerConfig h = read_config("tiny-hybrid");
  CHECK(h.hybrid());
  CHECK(h.depth == 2);
  CHECK(h.input_dim == 32);
  CHECK(h.n_embed == 32);
  CHECK(vision::kDeepSeekVL1_3BAligner.n_embed == 2048);
  CHECK(vision::kDeepSeekVL7BAligner.n_embed == 4096);
  CHECK(vision::kDeepSeekVL7BAligner.hybrid());

  auto bad = io::read_json(model_dir("tiny-siglip") / "config.json").at("aligner_config");
  bad["params"]["projector_type"] = "downsample_mlp_gelu";
  CHECK_THROWS_WITH(vision::parse_aligner_config(bad, "cfg"), doctest::Contains("field 'params/projector_type'"));
  bad["params"]["projector_type"] = "mlp_gelu";
  bad["params"].erase("n_embed");
  CHECK_THROWS_WITH(vision::parse_aligner_config(bad, "cfg"), doctest::Contains("params/n_embed"));
}

TEST_CASE("Aligner: the names and shapes of the official checkpoints") {
  nn::WeightNames names;
  Aligner<policies::ScalarF32> a(vision::kDeepSeekVL7BAligner);
  a.visit(names);
  REQUIRE(names.entries.size() == 6);
  CHECK(names.entries[0].name == "high_up_proj.weight");
  CHECK(names.entries[0].shape == std::vector<std::int64_t>{2048, 1024});
  CHECK(names.entries[4].name == "layers.1.weight");
  CHECK(names.entries[4].shape == std::vector<std::int64_t>{4096, 4096});
  nn::WeightNames names3;
  Aligner<policies::ScalarF32> b(AlignerConfig{AlignerConfig::Type::mlp_gelu, 3, 1024, 2048});
  b.visit(names3);
  REQUIRE(names3.entries.size() == 6);
  CHECK(names3.entries[0].name == "layers.0.weight");
  CHECK(names3.entries[0].shape == std::vector<std::int64_t>{2048, 1024});
  CHECK(names3.entries[2].name == "layers.2.weight");
  CHECK(names3.entries[4].name == "layers.4.weight");
}

TEST_CASE_TEMPLATE("Aligner matches the official MlpProjector", P, policies::ScalarF32, policies::ScalarBF16,
                   policies::XsimdF32, policies::XsimdBF16, policies::HwyF32, policies::HwyBF16) {
  if (!fs::exists(model_dir("tiny-hybrid") / "reference.safetensors")) {
    MESSAGE("skipped: tests/data/deepseek_vl not found");
    return;
  }
  ThreadPool pool(2);
  const double tol = tolerance<P>();
  {
    const AlignerConfig cfg = read_config("tiny-siglip");
    const auto ckpt = io::Checkpoint::open(model_dir("tiny-siglip") / "model.safetensors");
    const ReferenceFile ref(model_dir("tiny-siglip") / "reference.safetensors");
    Aligner<P> aligner(cfg);
    aligner.load(ckpt, "aligner.");
    const auto x = ref.f32("one_image.vision.siglip.norm", {1, 144, cfg.input_dim}, 144);
    const auto out = aligner.forward(std::as_const(x).view(), pool);
    const double e = relative_error(out.view(), ref.f32("one_image.image_embeds", {144, cfg.n_embed}, 144).view());
    MESSAGE("tiny-siglip image_embeds relative error ", e);
    CHECK(e <= tol);
  }
  {
    const AlignerConfig cfg = read_config("tiny-hybrid");
    const auto ckpt = io::Checkpoint::open(model_dir("tiny-hybrid") / "model.safetensors");
    const ReferenceFile ref(model_dir("tiny-hybrid") / "reference.safetensors");
    Aligner<P> aligner(cfg);
    aligner.load(ckpt, "aligner.");
    const std::int64_t N = 576, D = cfg.n_embed;
    const auto high = ref.f32("one_image.vision.high", {1, N, cfg.input_dim}, N);
    const auto low = ref.f32("one_image.vision.siglip.norm", {1, N, cfg.input_dim}, N);
    Tensor<float, 2> out({N, D}), up({N, D});
    aligner.forward(std::as_const(high).view(), std::as_const(low).view(), out.view(), pool, up.view());
    const auto hi_ref = ref.f32("one_image.aligner.high_up_proj", {1, N, D / 2}, N);
    const auto lo_ref = ref.f32("one_image.aligner.low_up_proj", {1, N, D / 2}, N);
    const double eh = relative_error(std::as_const(up).view().slice(1, 0, D / 2), hi_ref.view());
    const double el = relative_error(std::as_const(up).view().slice(1, D / 2, D), lo_ref.view());
    const double e = relative_error(out.view(), ref.f32("one_image.image_embeds", {N, D}, N).view());
    MESSAGE("tiny-hybrid high_up_proj ", eh, " low_up_proj ", el, " image_embeds ", e);
    CHECK(eh <= tol);
    CHECK(el <= tol);
    CHECK(e <= tol);
  }
}

TEST_CASE("Aligner: a misshapen weight is named by the loader") {
  const auto good = io::Checkpoint::open(model_dir("tiny-siglip") / "model.safetensors");
  const fs::path path = fs::temp_directory_path() / ("dsvl_aligner_" + std::to_string(::getpid()) + ".safetensors");
  {
    io::SafeTensorsWriter w;
    for (const auto name : good.names()) {
      const std::string n(name);
      if (!n.starts_with("aligner.")) continue;
      if (n == "aligner.layers.2.weight") {
        const auto v = good.view<float, 2>(n);
        w.add(n, v.slice(0, 0, v.shape(0) - 1));
      } else if (good.info(n).shape.size() == 1) {
        w.add(n, good.view<float, 1>(n));
      } else {
        w.add(n, good.view<float, 2>(n));
      }
    }
    w.write(path);
  }
  const auto bad = io::Checkpoint::open(path);
  Aligner<policies::XsimdF32> a(read_config("tiny-siglip"));
  CHECK_THROWS_WITH(a.load(bad, "aligner."),
                    doctest::Contains("tensor 'aligner.layers.2.weight' has shape [31, 32], expected [32, 32]"));
  fs::remove(path);
}
