// vision::DownsampleProjector (DeepSeek-VL2's MlpProjector, "downsample_mlp_gelu"): the config
// reader and presets, the checkpoint names and shapes, the unfold order c*r*r + kh*r + kw with the
// zero padding, every CPU policy against the scalar f32 reference, and the official module's
// outputs on the tiny models of tests/data/deepseek_vl2.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/io/json.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/kernels/activations.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/downsample_projector.hpp"
#include "reference_fixture.hpp"
#include "shared_data.hpp"

using namespace dsvl;
using dsvl::test::relative_error;
using vision::DownsampleProjector;
using vision::DownsampleProjectorConfig;

namespace {

DownsampleProjectorConfig parse(const char* text) {
  return vision::parse_downsample_projector_config(io::parse_json(text, "projector_config"), "projector_config");
}

// Sets every weight from fn(full name, row, column) (column 0 for biases).
template <class Fn>
class FillWeights : public nn::WeightVisitor<FillWeights<Fn>> {
 public:
  explicit FillWeights(Fn fn) : fn_(fn) {}
  template <class W, std::size_t R>
  void weight(std::string_view name, nn::Weight<W, R>& w, const std::array<std::int64_t, R>& shape) {
    typename View<W, R>::Shape s{};
    for (std::size_t i = 0; i < R; ++i) s[i] = shape[i];
    View<W, R> v = w.allocate(s);
    const std::string full = this->full_name(name);
    if constexpr (R == 1) {
      for (std::int64_t i = 0; i < shape[0]; ++i) v(i) = from_f32<W>(fn_(full, i, 0));
    } else {
      for (std::int64_t i = 0; i < shape[0]; ++i)
        for (std::int64_t j = 0; j < shape[1]; ++j) v(i, j) = from_f32<W>(fn_(full, i, j));
    }
  }
  void unused(std::string_view) {}

 private:
  Fn fn_;
};

Tensor<float, 3> random_tokens(std::int64_t n_tiles, std::int64_t hw, std::int64_t C, std::uint64_t seed) {
  Tensor<float, 3> x({n_tiles, hw, C});
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = dist(rng);
  return x;
}

// Against the scalar f32 reference (random weights of scale 1/sqrt(fan_in), unit normal inputs)
// and against PyTorch (the fixtures). f32: the same products added in another order, measured
// 1.3e-7 and 3.0e-7 relative; 1e-5 leaves a wide margin. bf16 weights: each matrix entry is
// rounded to bf16 (relative error up to 2^-9), measured 1.7e-3 and 2.4e-3 on the output; 1e-2
// allows about four times that.
template <class P>
double tolerance() {
  if constexpr (std::is_same_v<typename P::weight_type, float>) return 1e-5;
  else return 1e-2;
}

}  // namespace

TEST_CASE("DownsampleProjectorConfig: presets, MlpProjectorConfig's defaults and refused settings") {
  const DownsampleProjectorConfig d = parse(R"({"model_type": "mlp_projector", "n_embed": 1280})");
  CHECK(d == vision::kDeepSeekVL2TinyProjector);
  CHECK(parse(R"({"n_embed": 2048})") == vision::kDeepSeekVL2SmallProjector);
  CHECK(parse("{}").n_embed == 2048);  // the class default
  CHECK(vision::kDeepSeekVL2BaseProjector.n_embed == 2560);
  const auto full = parse(R"({"projector_type": "downsample_mlp_gelu", "input_dim": 64, "n_embed": 96, "depth": 3,
                              "mlp_ratio": 2, "downsample_ratio": 3, "token_pooling": false})");
  CHECK(full.input_dim == 64);
  CHECK(full.depth == 3);
  CHECK(full.mlp_ratio == 2);
  CHECK(full.downsample_ratio == 3);
  CHECK(full.hidden_dim() == 192);

  CHECK_THROWS_WITH_AS(parse(R"({"projector_type": "mlp_gelu"})"), doctest::Contains("field 'projector_type'"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"token_pooling": true})"), doctest::Contains("field 'token_pooling'"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"depth": 0})"), doctest::Contains("field 'depth' is 0"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"mlp_ratio": 1.5})"), doctest::Contains("field 'mlp_ratio'"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"downsample_ratio": 0})"), doctest::Contains("field 'downsample_ratio'"), Error);

  const auto dir = test::shared_data("tokenizers/deepseek-vl2");
  if (dir.empty()) {
    MESSAGE("skipped the released config.json: shared/data/tokenizers/deepseek-vl2 not found");
    return;
  }
  const auto path = dir / "config.json";
  CHECK(vision::parse_downsample_projector_config(io::read_json(path).at("projector_config"), path.string()) ==
        vision::kDeepSeekVL2BaseProjector);
}

TEST_CASE("DownsampleProjector: the names and shapes of the official checkpoints, and other depths") {
  const auto names = [](const DownsampleProjectorConfig& c) {
    nn::WeightNames n;
    DownsampleProjector<policies::ScalarF32> p(c);
    p.visit(n);
    return n.entries;
  };
  const auto tiny = names(vision::kDeepSeekVL2TinyProjector);
  REQUIRE(tiny.size() == 4);
  CHECK(tiny[0].name == "layers.0.weight");
  CHECK(tiny[0].shape == std::vector<std::int64_t>{1280, 4608});
  CHECK(tiny[1].name == "layers.0.bias");
  CHECK(tiny[1].shape == std::vector<std::int64_t>{1280});
  CHECK(tiny[2].name == "layers.2.weight");
  CHECK(tiny[2].shape == std::vector<std::int64_t>{1280, 1280});
  CHECK(tiny[3].name == "layers.2.bias");
  CHECK(names(vision::kDeepSeekVL2BaseProjector)[0].shape == std::vector<std::int64_t>{2560, 4608});

  // depth 3, mlp_ratio 2: Linear(4C, 2D), GELU, Linear(2D, 2D), GELU, Linear(2D, D).
  const auto deep = names({DownsampleProjectorConfig::Type::downsample_mlp_gelu, 16, 8, 3, 2, 2});
  REQUIRE(deep.size() == 6);
  CHECK(deep[0].shape == std::vector<std::int64_t>{16, 64});
  CHECK(deep[2].name == "layers.2.weight");
  CHECK(deep[2].shape == std::vector<std::int64_t>{16, 16});
  CHECK(deep[4].name == "layers.4.weight");
  CHECK(deep[4].shape == std::vector<std::int64_t>{8, 16});
  // depth 1 builds the same two layers as depth 2 in the official loop.
  const auto one = names({DownsampleProjectorConfig::Type::downsample_mlp_gelu, 16, 8, 1, 1, 2});
  REQUIRE(one.size() == 4);
  CHECK(one[2].name == "layers.2.weight");
}

TEST_CASE("downsample_unfold: feature c*r*r + kh*r + kw of block (i, j) is x[(r*i + kh) * P + r*j + kw, c], zero-padded") {
  const std::int64_t P = 5, C = 3, r = 2, Q = 3;  // 5x5 patches -> padded 6x6 -> 3x3 blocks
  Tensor<float, 2> x({P * P, C});
  for (std::int64_t p = 0; p < P * P; ++p)
    for (std::int64_t c = 0; c < C; ++c) x(p, c) = static_cast<float>(100 * c + p + 1);
  Tensor<float, 2> u({Q * Q, C * r * r});
  vision::downsample_unfold(x.view(), r, u.view());
  int zeros = 0;
  for (std::int64_t i = 0; i < Q; ++i)
    for (std::int64_t j = 0; j < Q; ++j)
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t kh = 0; kh < r; ++kh)
          for (std::int64_t kw = 0; kw < r; ++kw) {
            const std::int64_t y = 2 * i + kh, xc = 2 * j + kw;
            const float want = y < P && xc < P ? x(y * P + xc, c) : 0.0f;
            zeros += want == 0.0f;
            CHECK(u(i * Q + j, c * 4 + kh * 2 + kw) == want);
          }
  CHECK(zeros == C * (2 * Q * 2 - 1));  // row 5 and column 5 of the padded grid, 11 positions each channel
  // r = 3 on 4x4 patches: padded to 6x6, 2x2 blocks of 27 features c*9 + kh*3 + kw.
  Tensor<float, 2> u3({4, C * 9});
  vision::downsample_unfold(x.view().slice(0, 0, 16), 3, u3.view());
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 2; ++j)
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t kh = 0; kh < 3; ++kh)
          for (std::int64_t kw = 0; kw < 3; ++kw) {
            const std::int64_t y = 3 * i + kh, xc = 3 * j + kw;
            CHECK(u3(i * 2 + j, c * 9 + kh * 3 + kw) == (y < 4 && xc < 4 ? x(y * 4 + xc, c) : 0.0f));
          }
  Tensor<float, 2> wrong({Q * Q, C * r * r + 1}), not_square({P * P - 1, C});
  CHECK_THROWS_WITH_AS(vision::downsample_unfold(x.view(), r, wrong.view()), doctest::Contains("u is (9, 13)"), Error);
  CHECK_THROWS_WITH_AS(vision::downsample_unfold(not_square.view(), r, u.view()), doctest::Contains("square"), Error);
}

TEST_CASE("DownsampleProjector: weights that select single unfolded features give GELU of the right input") {
  // C = 3 channels, 3x3 patches (padded to 4x4, 2x2 output tokens), n_embed = 4C = 12. Layer 0
  // row n reads only feature perm[n]; layer 2 is the identity. So output n of block (i, j) is
  // GELU(x[(2i + kh) * 3 + 2j + kw, c]) with perm[n] = c*4 + kh*2 + kw, or GELU(0) = 0 in the
  // padding: any other unfold order reads another (distinct) input.
  const std::int64_t C = 3, P = 3, Q = 2, D = 12;
  const DownsampleProjectorConfig cfg{DownsampleProjectorConfig::Type::downsample_mlp_gelu, C, D, 2, 1, 2};
  const std::int64_t perm[D] = {5, 0, 11, 3, 8, 1, 10, 7, 2, 9, 4, 6};
  DownsampleProjector<policies::ScalarF32> proj(cfg);
  FillWeights fill([&](const std::string& name, std::int64_t n, std::int64_t k) -> float {
    if (name == "layers.0.weight") return k == perm[n] ? 1.0f : 0.0f;
    if (name == "layers.2.weight") return k == n ? 1.0f : 0.0f;
    return 0.0f;  // biases
  });
  proj.visit(fill);
  Tensor<float, 3> x({2, P * P, C});
  for (std::int64_t t = 0; t < 2; ++t)
    for (std::int64_t p = 0; p < P * P; ++p)
      for (std::int64_t c = 0; c < C; ++c) x(t, p, c) = 0.05f * static_cast<float>(1 + 27 * t + 9 * c + p);
  const Tensor<float, 3> out = proj.forward(x.view());
  REQUIRE(out.shape() == Tensor<float, 3>::Shape{2, Q * Q, D});
  for (std::int64_t t = 0; t < 2; ++t)
    for (std::int64_t i = 0; i < Q; ++i)
      for (std::int64_t j = 0; j < Q; ++j)
        for (std::int64_t n = 0; n < D; ++n) {
          const std::int64_t f = perm[n], c = f / 4, kh = f / 2 % 2, kw = f % 2;
          const std::int64_t y = 2 * i + kh, xc = 2 * j + kw;
          const float in = y < P && xc < P ? x(t, y * P + xc, c) : 0.0f;
          CAPTURE(t);
          CAPTURE(i);
          CAPTURE(j);
          CAPTURE(n);
          CHECK(out(t, i * Q + j, n) == doctest::Approx(kernels::detail::gelu_erf_scalar(in)).epsilon(1e-6));
        }
}

TEST_CASE_TEMPLATE("DownsampleProjector: every CPU policy agrees with the scalar f32 reference", P,
                   policies::ScalarF32, policies::ScalarBF16, policies::XsimdF32, policies::XsimdBF16,
                   policies::HwyF32, policies::HwyBF16) {
  ThreadPool pool(2);
  // 27x27 patches as in SO400M/14 at 384 (padded to 28x28, 196 tokens), fewer channels; and a
  // depth-3 stack with mlp_ratio 2 and an even grid.
  const DownsampleProjectorConfig configs[] = {
      {DownsampleProjectorConfig::Type::downsample_mlp_gelu, 40, 24, 2, 1, 2},
      {DownsampleProjectorConfig::Type::downsample_mlp_gelu, 8, 12, 3, 2, 2},
  };
  const std::int64_t sides[] = {27, 6};
  for (int k = 0; k < 2; ++k) {
    const DownsampleProjectorConfig& cfg = configs[k];
    CAPTURE(k);
    DownsampleProjector<policies::ScalarF32> ref(cfg);
    DownsampleProjector<P> proj(cfg);
    nn::WeightRandomInit init_ref(11), init(11);  // the same values, rounded to P's storage
    ref.visit(init_ref);
    proj.visit(init);
    const auto x = random_tokens(3, sides[k] * sides[k], cfg.input_dim, 5);
    const auto want = ref.forward(x.view(), pool);
    const auto got = proj.forward(x.view(), pool);
    REQUIRE(got.shape() == want.shape());
    const double e = relative_error(got.view().rows(), want.view().rows());
    MESSAGE("relative error ", e);
    CHECK(e <= tolerance<P>());
  }
}

TEST_CASE("DownsampleProjector: misshapen inputs and weights are named") {
  const DownsampleProjectorConfig cfg{DownsampleProjectorConfig::Type::downsample_mlp_gelu, 4, 6, 2, 1, 2};
  DownsampleProjector<policies::XsimdF32> proj(cfg);
  nn::WeightRandomInit init(3);
  proj.visit(init);
  CHECK(proj.output_side(27) == 14);
  const Tensor<float, 3> wrong_dim({1, 9, 5}), not_square({1, 10, 4}), empty_tiles({0, 9, 4});
  CHECK_THROWS_WITH_AS(proj.forward(wrong_dim.view()), doctest::Contains("expected (n_tiles, P*P, 4)"), Error);
  CHECK_THROWS_WITH_AS(proj.forward(not_square.view()), doctest::Contains("x is (1, 10, 4)"), Error);
  CHECK(proj.forward(empty_tiles.view()).shape(0) == 0);
  const Tensor<float, 3> x({2, 9, 4});
  Tensor<float, 3> out({2, 4, 5});
  CHECK_THROWS_WITH_AS(proj.forward(x.view(), out.view()), doctest::Contains("out is (2, 4, 5), expected (2, 4, 6)"),
                       Error);

  // A checkpoint written for n_embed 5: the loader names the first layer's weight.
  namespace fs = std::filesystem;
  const fs::path path = fs::temp_directory_path() / ("dsvl_vl2_projector_" + std::to_string(::getpid()) + ".safetensors");
  {
    DownsampleProjector<policies::ScalarF32> other({DownsampleProjectorConfig::Type::downsample_mlp_gelu, 4, 5, 2, 1, 2});
    other.visit(init);
    io::SafeTensorsWriter w;
    nn::WeightSaver saver(w, "projector.");
    other.visit(saver);
    w.write(path);
  }
  {
    const auto ckpt = io::Checkpoint::open(path);
    DownsampleProjector<policies::ScalarF32> p(cfg);
    CHECK_THROWS_WITH_AS(p.load(ckpt), doctest::Contains("tensor 'projector.layers.0.weight' has shape [5, 16], expected [6, 16]"),
                         Error);
  }
  fs::remove(path);
}

// tools/reference/deepseek_vl2.py ran the official MlpProjector (float32) on the tiny models'
// SigLIP outputs [n_tiles, 49, 32] (7x7 patches, padded to 8x8) -> [n_tiles, 16, 64].
TEST_CASE_TEMPLATE("DownsampleProjector matches the official MlpProjector on the tiny VL2 fixtures", P,
                   policies::ScalarF32, policies::ScalarBF16, policies::XsimdF32, policies::XsimdBF16,
                   policies::HwyF32, policies::HwyBF16) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl2";
  if (!fs::exists(dir / "tiny-mha" / "reference.safetensors")) {
    MESSAGE("skipped: tests/data/deepseek_vl2 not found");
    return;
  }
  ThreadPool pool(2);
  for (const std::string variant : {"tiny-mha", "tiny-mla", "tiny-mla-noaux"}) {
    CAPTURE(variant);
    const fs::path cfg_path = dir / variant / "config.json";
    const auto cfg = vision::parse_downsample_projector_config(io::read_json(cfg_path).at("projector_config"),
                                                               cfg_path.string());
    const auto ckpt = io::Checkpoint::open(dir / variant / "model.safetensors");
    DownsampleProjector<P> proj(cfg);
    proj.load(ckpt, "projector.");
    const test::ReferenceFile ref(dir / variant / "reference.safetensors");
    for (const std::string c : {"tiles", "two", "three"}) {
      CAPTURE(c);
      const auto vs = ref.shape(c + ".vision"), ps = ref.shape(c + ".projector");
      const auto x = ref.f32(c + ".vision", vs, vs[0] * vs[1]);
      const auto want = ref.f32(c + ".projector", ps, ps[0] * ps[1]);
      const auto got = proj.forward(x.view().reshape<3>({vs[0], vs[1], vs[2]}), pool);
      const double e = relative_error(got.view().rows(), want.view());
      MESSAGE(variant, " ", c, " relative error ", e);
      CHECK(e <= tolerance<P>());
    }
  }
}
