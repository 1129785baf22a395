#pragma once
// Aligner<P>: the MlpProjector of DeepSeek-VL (v1) and DeepSeek-OCR, which maps vision features
// to the language model's embedding width, as the official code builds it
// (deepseek_vl/models/projector.py, DeepSeek-OCR's deepencoder/build_linear.py):
//
//   "linear"                          layers = Linear(input_dim, n_embed) (DeepSeek-OCR)
//                                     weights projector.layers.{weight,bias}
//   "mlp_gelu"                        layers = Linear(input_dim, n_embed), then depth - 1 times
//                                     [GELU, Linear(n_embed, n_embed)]
//                                     weights aligner.layers.<2i>.{weight,bias}, i < depth
//   "low_high_hybrid_split_mlp_gelu"  high_up_proj, low_up_proj = Linear(input_dim, n_embed / 2)
//                                     x = concat([high_up_proj(high), low_up_proj(low)], -1)
//                                     then depth - 1 times [GELU, Linear(n_embed, n_embed)]
//                                     weights aligner.{high,low}_up_proj.*, aligner.layers.<2i-1>.*
//
// GELU is nn.GELU()'s default, the exact erf form. Matrices are stored as P::weight_type, biases
// as f32. Forward: features (N, input_dim) f32 (for the hybrid, the high- and low-resolution
// features, each (N, input_dim)) -> (N, n_embed).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/config_json.hpp"
#include "dsvl/io/json_get.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"

namespace dsvl::vision {

// The `aligner_config.params` of a DeepSeek-VL config.json (MlpProjector's cfg).
struct AlignerConfig {
  enum class Type { mlp_gelu, low_high_hybrid_split_mlp_gelu, linear };
  static constexpr const char* kTypeNames[] = {"mlp_gelu", "low_high_hybrid_split_mlp_gelu", "linear"};

  Type projector_type = Type::mlp_gelu;
  std::int64_t depth = 2;
  std::int64_t input_dim = 0;
  std::int64_t n_embed = 0;
  constexpr bool hybrid() const noexcept { return projector_type == Type::low_high_hybrid_split_mlp_gelu; }
  constexpr bool linear() const noexcept { return projector_type == Type::linear; }

  // Every field once (core/config.hpp); an absent depth is MlpProjector's default, 1 ("linear"
  // does not read it).
  static constexpr const char* kName = "AlignerConfig";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.choice("projector_type", c.projector_type, config::required, kTypeNames);
    v.field("depth", c.depth, std::int64_t{1}, config::kLayers);
    v.field("input_dim", c.input_dim, config::required, config::kWidths);
    v.field("n_embed", c.n_embed, config::required, config::kWidths);
  }

  constexpr bool operator==(const AlignerConfig&) const = default;
};

using config::check_matches_preset;
using config::differences;
using config::to_string;

// The 1.3B aligner (SigLIP-L 1024 -> 2048) and the 7B one (hybrid, 1024 -> 4096).
inline constexpr AlignerConfig kDeepSeekVL1_3BAligner{AlignerConfig::Type::mlp_gelu, 2, 1024, 2048};
inline constexpr AlignerConfig kDeepSeekVL7BAligner{AlignerConfig::Type::low_high_hybrid_split_mlp_gelu, 2, 1024, 4096};
// DeepSeek-OCR's projector: CLIP-L and SAM features concatenated (2048) -> 1280.
inline constexpr AlignerConfig kDeepSeekOcrProjector{AlignerConfig::Type::linear, 1, 2048, 1280};

// Checks what the aligner relies on; errors name `where` and the field.
inline void check_config(const AlignerConfig& c, const std::string& where) {
  if (c.depth < 1) fail(where, "field 'depth' is ", c.depth, ", expected at least 1");
  if (c.input_dim < 1) fail(where, "field 'input_dim' is ", c.input_dim, ", expected at least 1");
  if (c.n_embed < 1 || (c.hybrid() && c.n_embed % 2 != 0))
    fail(where, "field 'n_embed' is ", c.n_embed, c.hybrid() ? ", expected a positive even number" : ", expected at least 1");
}

// Reads `aligner_config` (cls "MlpProjector", keys under params). Errors name `where` and the field.
template <io::JsonValue J>
AlignerConfig parse_aligner_config(const J& aligner_config, const std::string& where) {
  const auto cls = io::json_get<std::string>(aligner_config, "cls", where);
  if (cls != "MlpProjector") fail(where, "field 'cls' is \"", cls, "\", expected \"MlpProjector\"");
  AlignerConfig c;
  io::json_get_fields(aligner_config, "params", c, where);
  check_config(c, where);
  return c;
}

template <KernelPolicy P>
class Aligner {
  static_assert(P::kernel_tag::on_host, "vision::Aligner runs on the host; use a host kernel policy");

 public:
  using W = typename P::weight_type;
  using Tag = typename P::kernel_tag;

  explicit Aligner(const AlignerConfig& cfg) : cfg_(cfg) {
    DSVL_CHECK(cfg.depth >= 1 && cfg.input_dim >= 1 && cfg.n_embed >= 1 && (!cfg.hybrid() || cfg.n_embed % 2 == 0),
               "vision::Aligner", "invalid config: depth ", cfg.depth, ", input_dim ", cfg.input_dim,
               ", n_embed ", cfg.n_embed);
    layers_.resize(cfg.linear() ? 1 : static_cast<std::size_t>(cfg.depth - (cfg.hybrid() ? 1 : 0)));
  }
  const AlignerConfig& config() const noexcept { return cfg_; }

  struct Linear {
    std::int64_t in = 0, out = 0;
    nn::Weight<W, 2> weight;
    nn::Weight<float, 1> bias;
    template <class V>
    void visit(V& v) {
      v.weight("weight", weight, {out, in});
      v.weight("bias", bias, {out});
    }
  };

  template <class V>
  void visit(V& v) {
    const std::int64_t D = cfg_.n_embed, I = cfg_.input_dim;
    if (cfg_.hybrid()) {
      high_.in = low_.in = I;
      high_.out = low_.out = D / 2;
      v.child("high_up_proj", high_);
      v.child("low_up_proj", low_);
    }
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      Linear& l = layers_[i];
      const bool first_mlp = !cfg_.hybrid() && i == 0;
      l.in = first_mlp ? I : D;
      l.out = D;
      const std::size_t index = cfg_.hybrid() ? 2 * i + 1 : 2 * i;
      v.child(cfg_.linear() ? std::string("layers") : "layers." + std::to_string(index), l);
    }
  }

  // Binds the weights to `prefix` + name in `ckpt` (e.g. prefix "aligner."), which must outlive
  // this model where it stores P::weight_type; reports every missing, misshapen or undeclared
  // tensor under `prefix` in one dsvl::Error.
  void load(const io::Checkpoint& ckpt, const std::string& prefix = "aligner.") {
    nn::load_weights(*this, ckpt, prefix);
  }

  // mlp_gelu and linear: x (N, input_dim) -> out (N, n_embed).
  void forward(View<const float, 2> x, View<float, 2> out, ThreadPool& pool = ThreadPool::global()) const {
    DSVL_CHECK(!cfg_.hybrid(), "vision::Aligner::forward", "the hybrid aligner takes two inputs (high, low)");
    check_in("x", x);
    check_out(out, x.shape(0));
    run_layers(x, out, pool, 0);
  }
  Tensor<float, 2> forward(View<const float, 2> x, ThreadPool& pool = ThreadPool::global()) const {
    Tensor<float, 2> out({x.shape(0), cfg_.n_embed});
    forward(x, out.view(), pool);
    return out;
  }

  // low_high_hybrid_split_mlp_gelu: high, low (N, input_dim) -> out (N, n_embed). `up`, when not
  // empty, receives the concatenation [high_up_proj(high), low_up_proj(low)] (N, n_embed).
  void forward(View<const float, 2> high, View<const float, 2> low, View<float, 2> out,
               ThreadPool& pool = ThreadPool::global(), View<float, 2> up = {}) const {
    DSVL_CHECK(cfg_.hybrid(), "vision::Aligner::forward", "the ", AlignerConfig::kTypeNames[static_cast<int>(cfg_.projector_type)],
               " aligner takes one input");
    check_in("high", high);
    check_in("low", low);
    const std::int64_t N = high.shape(0), D = cfg_.n_embed;
    DSVL_CHECK(low.shape(0) == N, "vision::Aligner::forward", "high has ", N, " rows, low ", low.shape(0));
    check_out(out, N);
    Tensor<float, 2> cat({N, D});
    const Tag tag{};
    kernels::gemm(tag, high, high_.weight.view(), high_.bias.view(), cat.view().slice(1, 0, D / 2), pool);
    kernels::gemm(tag, low, low_.weight.view(), low_.bias.view(), cat.view().slice(1, D / 2, D), pool);
    if (up.size() > 0) {
      DSVL_CHECK(up.shape(0) == N && up.shape(1) == D, "vision::Aligner::forward", "up is (", up.shape(0), ", ",
                 up.shape(1), "), expected (", N, ", ", D, ")");
      for (std::int64_t r = 0; r < N; ++r)
        for (std::int64_t c = 0; c < D; ++c) up(r, c) = cat(r, c);
    }
    run_layers(std::as_const(cat).view(), out, pool, 1);
  }
  Tensor<float, 2> forward(View<const float, 2> high, View<const float, 2> low,
                           ThreadPool& pool = ThreadPool::global()) const {
    Tensor<float, 2> out({high.shape(0), cfg_.n_embed});
    forward(high, low, out.view(), pool);
    return out;
  }

 private:
  void check_in(const char* name, View<const float, 2> x) const {
    DSVL_CHECK(x.shape(1) == cfg_.input_dim, "vision::Aligner::forward", name, " is (", x.shape(0), ", ",
               x.shape(1), "), expected (N, ", cfg_.input_dim, ")");
  }
  void check_out(View<float, 2> out, std::int64_t N) const {
    DSVL_CHECK(out.shape(0) == N && out.shape(1) == cfg_.n_embed && out.inner_contiguous(),
               "vision::Aligner::forward", "out is (", out.shape(0), ", ", out.shape(1), "), expected (", N,
               ", ", cfg_.n_embed, ") with a contiguous last dimension");
  }
  // Applies layers_ from `first` on: GELU before each layer except when first == 0 and i == 0.
  void run_layers(View<const float, 2> x, View<float, 2> out, ThreadPool& pool, int gelu_first) const {
    const Tag tag{};
    const std::int64_t N = x.shape(0), D = cfg_.n_embed;
    if (layers_.empty()) {  // hybrid of depth 1: the concatenation is the output
      for (std::int64_t r = 0; r < N; ++r)
        for (std::int64_t c = 0; c < D; ++c) out(r, c) = x(r, c);
      return;
    }
    Tensor<float, 2> a, b;
    View<const float, 2> in = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (i > 0 || gelu_first) {
        Tensor<float, 2> g({N, in.shape(1)});
        kernels::gelu_erf(tag, in, g.view());
        a = std::move(g);
        in = std::as_const(a).view();
      }
      const bool last = i + 1 == layers_.size();
      if (last) {
        kernels::gemm(tag, in, layers_[i].weight.view(), layers_[i].bias.view(), out, pool);
      } else {
        b = Tensor<float, 2>({N, D});
        kernels::gemm(tag, in, layers_[i].weight.view(), layers_[i].bias.view(), b.view(), pool);
        std::swap(a, b);
        in = std::as_const(a).view();
      }
    }
  }

  AlignerConfig cfg_;
  Linear high_, low_;
  std::vector<Linear> layers_;
};

}  // namespace dsvl::vision
