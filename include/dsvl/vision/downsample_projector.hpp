#pragma once
// DownsampleProjector<P>: DeepSeek-VL2's MlpProjector with projector_type "downsample_mlp_gelu"
// (deepseek_vl2/models/modeling_deepseek_vl_v2.py, MlpProjector; spec 4.3), which merges each r x r
// block of a tile's vision tokens (r = downsample_ratio) and maps it to the language model's width.
//
// Per tile, x (P*P, C) with P = int(sqrt(P*P)) patches per side and C = input_dim:
//   1. reshape to (P, P, C) and zero-pad at the bottom and right to Pp = ceil(P / r) * r
//      (the SO400M/14 tower's 27 x 27 becomes 28 x 28);
//   2. F.unfold(kernel r, stride r) on (C, Pp, Pp): output token (i, j), i, j < Q = Pp / r, row-major,
//      has the r*r*C features u[c*r*r + kh*r + kw] = x[(r*i + kh) * P + (r*j + kw), c] (zero in the
//      padding): channel-major, then row in the block, then column;
//   3. layers = Linear(C*r*r, n_embed*mlp_ratio), then depth - 2 times
//      [GELU, Linear(n_embed*mlp_ratio, n_embed*mlp_ratio)], then GELU, Linear(n_embed*mlp_ratio,
//      n_embed); GELU is nn.GELU()'s exact erf form. The official loop makes depth 1 build the same
//      two Linear layers as depth 2, so there are max(depth, 2) of them, weights
//      projector.layers.<2i>.{weight,bias}.
// Output (Q*Q, n_embed): 196 tokens per 384-px tile for the released models.
//
// Matrices are stored as P::weight_type, biases as f32; activations are f32. token_pooling (a
// separate pooling Linear that the released models do not use) is not supported.

#include <algorithm>
#include <cstddef>
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

// The `projector_config` of a VL2 config.json (MlpProjectorConfig), restricted to
// projector_type "downsample_mlp_gelu" without token_pooling.
struct DownsampleProjectorConfig {
  enum class Type { downsample_mlp_gelu };
  static constexpr const char* kTypeNames[] = {"downsample_mlp_gelu"};

  Type projector_type = Type::downsample_mlp_gelu;
  std::int64_t input_dim = 1152;
  std::int64_t n_embed = 2048;
  std::int64_t depth = 2;
  std::int64_t mlp_ratio = 1;
  std::int64_t downsample_ratio = 2;

  // The number of Linear layers: max(depth, 2).
  constexpr std::int64_t num_linear() const noexcept { return depth < 2 ? 2 : depth; }
  constexpr std::int64_t hidden_dim() const noexcept { return n_embed * mlp_ratio; }

  // Every field once (core/config.hpp), with MlpProjectorConfig's defaults for absent keys (the
  // released configs give only n_embed).
  static constexpr const char* kName = "DownsampleProjectorConfig";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.choice("projector_type", c.projector_type, Type::downsample_mlp_gelu, kTypeNames);
    v.field("input_dim", c.input_dim, std::int64_t{1152}, config::kWidths);
    v.field("n_embed", c.n_embed, std::int64_t{2048}, config::kWidths);
    v.field("depth", c.depth, std::int64_t{2}, config::kLayers);
    v.field("mlp_ratio", c.mlp_ratio, std::int64_t{1}, config::kRatios);
    v.field("downsample_ratio", c.downsample_ratio, std::int64_t{2}, config::kRatios);
  }

  constexpr bool operator==(const DownsampleProjectorConfig&) const = default;
};

using config::check_matches_preset;
using config::differences;
using config::to_string;

// deepseek-ai/deepseek-vl2-tiny, -small and deepseek-vl2: SO400M's 1152 channels to the language
// model's hidden size (1280, 2048, 2560).
inline constexpr DownsampleProjectorConfig kDeepSeekVL2TinyProjector{
    DownsampleProjectorConfig::Type::downsample_mlp_gelu, 1152, 1280, 2, 1, 2};
inline constexpr DownsampleProjectorConfig kDeepSeekVL2SmallProjector{
    DownsampleProjectorConfig::Type::downsample_mlp_gelu, 1152, 2048, 2, 1, 2};
inline constexpr DownsampleProjectorConfig kDeepSeekVL2BaseProjector{
    DownsampleProjectorConfig::Type::downsample_mlp_gelu, 1152, 2560, 2, 1, 2};

// Checks what the projector relies on; errors name `where` and the field.
inline void check_config(const DownsampleProjectorConfig& c, const std::string& where) {
  const auto positive = [&](const char* key, std::int64_t v) {
    if (v < 1) fail(where, "field '", key, "' is ", v, ", expected at least 1");
  };
  positive("input_dim", c.input_dim);
  positive("n_embed", c.n_embed);
  positive("depth", c.depth);
  positive("mlp_ratio", c.mlp_ratio);
  positive("downsample_ratio", c.downsample_ratio);
}

// Reads `projector_config`; errors name `where` and the field. token_pooling, when present, must be
// false.
template <io::JsonValue J>
DownsampleProjectorConfig parse_downsample_projector_config(const J& projector_config, const std::string& where) {
  DownsampleProjectorConfig c;
  io::json_get_fields(projector_config, "", c, where);
  if (io::json_get_or<bool>(projector_config, "token_pooling", false, where))
    fail(where, "field 'token_pooling' is true, which is not supported");
  check_config(c, where);
  return c;
}

namespace detail {
// P = int(sqrt(hw)), as the official code takes the patches per side.
constexpr std::int64_t patches_per_side(std::int64_t hw) noexcept {
  std::int64_t p = 0;
  while ((p + 1) * (p + 1) <= hw) ++p;
  return p;
}
}  // namespace detail

// Steps 1 and 2 for one tile: x (P*P, C) -> u (Q*Q, C*r*r), Q = ceil(P / r).
inline void downsample_unfold(View<const float, 2> x, std::int64_t r, View<float, 2> u) {
  constexpr const char* where = "vision::downsample_unfold";
  DSVL_CHECK(r >= 1, where, "downsample_ratio r = ", r, " must be at least 1");
  const std::int64_t hw = x.shape(0), C = x.shape(1);
  const std::int64_t P = detail::patches_per_side(hw);
  DSVL_CHECK(hw >= 1 && P * P == hw, where, "x has ", hw, " tokens, expected a square P*P");
  const std::int64_t Q = (P + r - 1) / r, K = C * r * r;
  DSVL_CHECK(x.inner_contiguous(), where, "x must have a contiguous last dimension");
  DSVL_CHECK(u.shape(0) == Q * Q && u.shape(1) == K && u.inner_contiguous(), where, "u is (", u.shape(0), ", ",
             u.shape(1), "), expected (", Q * Q, ", ", K, ") with a contiguous last dimension");
  for (std::int64_t i = 0; i < Q; ++i)
    for (std::int64_t j = 0; j < Q; ++j) {
      float* dst = &u(i * Q + j, 0);
      for (std::int64_t kh = 0; kh < r; ++kh)
        for (std::int64_t kw = 0; kw < r; ++kw) {
          const std::int64_t y = r * i + kh, xc = r * j + kw, k = kh * r + kw;
          if (y < P && xc < P) {
            const float* src = &x(y * P + xc, 0);
            for (std::int64_t c = 0; c < C; ++c) dst[c * r * r + k] = src[c];
          } else {
            for (std::int64_t c = 0; c < C; ++c) dst[c * r * r + k] = 0.0f;
          }
        }
    }
}

template <KernelPolicy P>
class DownsampleProjector {
  static_assert(P::kernel_tag::on_host, "vision::DownsampleProjector runs on the host; use a host kernel policy");

 public:
  using W = typename P::weight_type;
  using Tag = typename P::kernel_tag;

  explicit DownsampleProjector(const DownsampleProjectorConfig& cfg) : cfg_(cfg) {
    DSVL_CHECK(cfg.input_dim >= 1 && cfg.n_embed >= 1 && cfg.depth >= 1 && cfg.mlp_ratio >= 1 &&
                   cfg.downsample_ratio >= 1,
               "vision::DownsampleProjector", "invalid config: input_dim ", cfg.input_dim, ", n_embed ", cfg.n_embed,
               ", depth ", cfg.depth, ", mlp_ratio ", cfg.mlp_ratio, ", downsample_ratio ", cfg.downsample_ratio);
    layers_.resize(static_cast<std::size_t>(cfg.num_linear()));
  }
  const DownsampleProjectorConfig& config() const noexcept { return cfg_; }

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
    const std::int64_t r = cfg_.downsample_ratio, hidden = cfg_.hidden_dim();
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      Linear& l = layers_[i];
      l.in = i == 0 ? cfg_.input_dim * r * r : hidden;
      l.out = i + 1 == layers_.size() ? cfg_.n_embed : hidden;
      v.child("layers." + std::to_string(2 * i), l);
    }
  }

  // Binds the weights to `prefix` + name in `ckpt`, which must outlive this block where it stores
  // P::weight_type; reports every missing, misshapen or undeclared tensor under `prefix` in one
  // dsvl::Error.
  void load(const io::Checkpoint& ckpt, const std::string& prefix = "projector.") {
    nn::load_weights(*this, ckpt, prefix);
  }

  // Q = ceil(P / downsample_ratio) for P patches per side: the output tokens per side.
  std::int64_t output_side(std::int64_t patches_per_side) const noexcept {
    return (patches_per_side + cfg_.downsample_ratio - 1) / cfg_.downsample_ratio;
  }

  // x (n_tiles, P*P, input_dim) -> out (n_tiles, Q*Q, n_embed); out's leading dimensions must
  // collapse into one row stride.
  void forward(View<const float, 3> x, View<float, 3> out, ThreadPool& pool = ThreadPool::global()) const {
    constexpr const char* where = "vision::DownsampleProjector::forward";
    const std::int64_t n_tiles = x.shape(0), hw = x.shape(1), r = cfg_.downsample_ratio;
    const std::int64_t side = detail::patches_per_side(hw);
    DSVL_CHECK(x.shape(2) == cfg_.input_dim && side * side == hw && hw >= 1, where, "x is (", n_tiles, ", ", hw, ", ",
               x.shape(2), "), expected (n_tiles, P*P, ", cfg_.input_dim, ")");
    DSVL_CHECK(x.inner_contiguous(), where, "x must have a contiguous last dimension");
    const std::int64_t Q = output_side(side), T = Q * Q, K = cfg_.input_dim * r * r;
    DSVL_CHECK(out.shape(0) == n_tiles && out.shape(1) == T && out.shape(2) == cfg_.n_embed && out.inner_contiguous(),
               where, "out is (", out.shape(0), ", ", out.shape(1), ", ", out.shape(2), "), expected (", n_tiles, ", ",
               T, ", ", cfg_.n_embed, ") with a contiguous last dimension");
    if (n_tiles == 0) return;
    const View<float, 2> out_rows = out.rows();
    const std::int64_t M = n_tiles * T;
    Tensor<float, 2> a({M, K});  // the unfolded tokens of every tile
    const std::int64_t grain = std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(K * T, 1));
    pool.parallel_for(0, n_tiles, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t t = b; t < e; ++t) downsample_unfold(x[t], r, a.view().slice(0, t * T, (t + 1) * T));
    }, grain);
    const Tag tag{};
    View<const float, 2> in = std::as_const(a).view();
    Tensor<float, 2> h, g;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const Linear& l = layers_[i];
      if (i + 1 == layers_.size()) {
        kernels::gemm(tag, in, l.weight.view(), l.bias.view(), out_rows, pool);
      } else {
        h = Tensor<float, 2>({M, l.out});
        kernels::gemm(tag, in, l.weight.view(), l.bias.view(), h.view(), pool);
        g = Tensor<float, 2>({M, l.out});
        kernels::gelu_erf(tag, std::as_const(h).view(), g.view());
        in = std::as_const(g).view();
      }
    }
  }

  Tensor<float, 3> forward(View<const float, 3> x, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t side = detail::patches_per_side(x.shape(1));
    Tensor<float, 3> out({x.shape(0), output_side(side) * output_side(side), cfg_.n_embed});
    forward(x, out.view(), pool);
    return out;
  }

 private:
  DownsampleProjectorConfig cfg_;
  std::vector<Linear> layers_;
};

}  // namespace dsvl::vision
