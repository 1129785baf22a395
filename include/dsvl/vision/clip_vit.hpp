#pragma once
// ClipVit<P>: the CLIP vision transformer of DeepSeek-OCR (deepencoder/clip_sdpa.py, VitModel),
// which embeds no pixels of its own: its patch embeddings are SAM's output map (its
// patch_embedding convolution is in the checkpoint but unused), sizes from a ClipConfig:
//
//   x = [class_embedding; patch_embeds] + pos    (N + 1, D), N = g*g patch rows row-major
//       pos: position_embedding (257 rows at 224/14), its grid part resized to g x g (bicubic,
//       antialias, align_corners=False, as get_abs_pos does) when g is not grid(); the class
//       token's row as stored
//   x = pre_layrnorm(x)
//   for each block:                                pre-norm
//     x = x + out_proj(attention(qkv_proj(layer_norm1(x))))   rows [q | k | v], heads of Dh
//                                                  contiguous, softmax(q kᵀ / sqrt(Dh)) v, no mask
//     x = x + fc2(quick_gelu(fc1(layer_norm2(x))))
// and no final LayerNorm. Every LayerNorm uses eps = layer_norm_eps (1e-5).
//
// Weights, by their checkpoint names under the prefix given to the loader ("model.vision_model."):
//   embeddings.class_embedding (D)   embeddings.position_embedding.weight (grid^2 + 1, D)
//   pre_layrnorm.{weight,bias} (D)
//   transformer.layers.<i>.{layer_norm1,layer_norm2}.{weight,bias} (D)
//   transformer.layers.<i>.self_attn.qkv_proj.weight (3D, D) .bias (3D)
//   transformer.layers.<i>.self_attn.out_proj.weight (D, D) .bias (D)
//   transformer.layers.<i>.mlp.fc1.weight (M, D) .bias (M)   .mlp.fc2.weight (D, M) .bias (D)
// embeddings.patch_embedding.* and embeddings.position_ids are declared unused. The four matrices
// of each block are stored as P::weight_type (a quantized format rounds them at load); the
// LayerNorm parameters as dense_weight_t<P>; biases and the embeddings as f32.
//
// Forward: patch_embeds (N, D) f32 -> out (N + 1, D), the class token's row first. GEMMs and
// attention run on the given ThreadPool.
//
// Trace (core/trace.hpp), tensor events of rank 2 (N + 1, D): ("embeddings", -1) after the
// positions are added, ("pre_layrnorm", -1), ("layer", i) after block i.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/square_side.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/trace.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/attention.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/nn/row_parallel.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/clip_config.hpp"

namespace dsvl::vision {

template <KernelPolicy P>
class ClipVit {
  static_assert(P::kernel_tag::on_host,
                "dsvl::vision::ClipVit runs on host policies (scalar, xsimd, Highway); there is no CUDA version of "
                "this block yet");

 public:
  using W = typename P::weight_type;
  using Dense = dense_weight_t<P>;
  using Tag = typename P::kernel_tag;

  struct Block {
    std::int64_t width = 0, mlp_dim = 0;
    nn::Weight<Dense, 1> norm1_weight, norm1_bias, norm2_weight, norm2_bias;
    nn::Weight<W, 2> qkv_weight, out_weight, fc1_weight, fc2_weight;
    nn::Weight<float, 1> qkv_bias, out_bias, fc1_bias, fc2_bias;

    template <class V>
    void visit(V& v) {
      const std::int64_t D = width, M = mlp_dim;
      v.weight("layer_norm1.weight", norm1_weight, {D});
      v.weight("layer_norm1.bias", norm1_bias, {D});
      v.weight("self_attn.qkv_proj.weight", qkv_weight, {3 * D, D});
      v.weight("self_attn.qkv_proj.bias", qkv_bias, {3 * D});
      v.weight("self_attn.out_proj.weight", out_weight, {D, D});
      v.weight("self_attn.out_proj.bias", out_bias, {D});
      v.weight("layer_norm2.weight", norm2_weight, {D});
      v.weight("layer_norm2.bias", norm2_bias, {D});
      v.weight("mlp.fc1.weight", fc1_weight, {M, D});
      v.weight("mlp.fc1.bias", fc1_bias, {M});
      v.weight("mlp.fc2.weight", fc2_weight, {D, M});
      v.weight("mlp.fc2.bias", fc2_bias, {D});
    }
  };

  explicit ClipVit(ClipConfig c) : config_(std::move(c)) {
    check_config(config_, "ClipVit");
    blocks_.resize(static_cast<std::size_t>(config_.layers));
    for (auto& b : blocks_) {
      b.width = config_.width;
      b.mlp_dim = config_.mlp_dim();
    }
  }

  const ClipConfig& config() const noexcept { return config_; }
  std::int64_t width() const noexcept { return config_.width; }

  template <class V>
  void visit(V& v) {
    const std::int64_t D = config_.width;
    v.weight("embeddings.class_embedding", class_embedding_, {D});
    v.weight("embeddings.position_embedding.weight", position_embedding_, {config_.num_positions(), D});
    v.unused("embeddings.patch_embedding.");
    v.unused("embeddings.position_ids");
    v.weight("pre_layrnorm.weight", pre_norm_weight_, {D});
    v.weight("pre_layrnorm.bias", pre_norm_bias_, {D});
    v.layers("transformer.layers", blocks_);
  }

  // Binds every weight to the tensor `prefix` + name of `ckpt` and reports every missing,
  // misshapen or undeclared tensor under `prefix` in one dsvl::Error.
  void load(const io::Checkpoint& ckpt, const std::string& prefix) { nn::load_weights(*this, ckpt, prefix); }

  // The position rows for a g x g grid (g*g + 1, D): the class token's, then the grid's (resized
  // when g is not grid()).
  Tensor<float, 2> positions_at(std::int64_t g, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t G0 = config_.grid(), D = width();
    const float* table = position_embedding_.view().data();
    Tensor<float, 2> out({g * g + 1, D});
    if (g == G0) {
      std::copy_n(table, out.size(), out.data());
      return out;
    }
    std::copy_n(table, D, out.data());
    Tensor<float, 3> src({D, G0, G0}), dst({D, g, g});
    kernels::detail::transpose_rows(table + D, D, G0 * G0, D, src.data());
    pool.parallel_for(0, D, [&](std::int64_t c0, std::int64_t c1) {
      kernels::interpolate(Tag{}, std::as_const(src).view().slice(0, c0, c1),
                           kernels::InterpParams{kernels::InterpMode::bicubic, false, true}, dst.view().slice(0, c0, c1));
    });
    kernels::detail::transpose_rows(dst.data(), g * g, D, g * g, out.data() + D);
    return out;
  }

  // patch_embeds (N, D), N = g*g -> out (N + 1, D).
  template <class Tracer = NoTrace>
  void forward(View<const float, 2> patch_embeds, View<float, 2> out, ThreadPool& pool = ThreadPool::global(),
               Tracer&& tracer = {}) const {
    const std::int64_t N = patch_embeds.shape(0), D = width(), R = N + 1;
    const std::int64_t H = config_.heads, Dh = config_.head_dim(), M = config_.mlp_dim();
    const std::int64_t g = square_side(N);
    DSVL_CHECK(g >= 1 && patch_embeds.shape(1) == D && patch_embeds.inner_contiguous(),
               "ClipVit::forward", "patch_embeds is (", N, ", ", patch_embeds.shape(1), "), expected (g*g, ", D,
               ") with a contiguous last dimension");
    DSVL_CHECK(out.shape(0) == R && out.shape(1) == D && out.inner_contiguous(), "ClipVit::forward", "out is (",
               out.shape(0), ", ", out.shape(1), "), expected (", R, ", ", D, ") with a contiguous last dimension");
    DSVL_CHECK(class_embedding_.size() > 0, "ClipVit::forward", "the weights are not loaded");
    const Tag tag{};
    const float eps = static_cast<float>(config_.layer_norm_eps);

    Tensor<float, 2> x({R, D}), h({R, D}), qkv({R, 3 * D}), tmp({R, D}), mlp({R, M});
    std::copy_n(class_embedding_.view().data(), D, x.data());
    for (std::int64_t n = 0; n < N; ++n) std::copy_n(patch_embeds.data() + n * patch_embeds.stride(0), D, x.data() + (n + 1) * D);
    const Tensor<float, 2> pos = positions_at(g, pool);
    nn::add_rows(tag, pool, x.view(), pos.view());
    trace(tracer, "embeddings", -1, std::as_const(x).view());
    nn::layer_norm_rows(tag, pool, x.view(), pre_norm_weight_.view(), pre_norm_bias_.view(), eps, h.view());
    std::swap(x, h);
    trace(tracer, "pre_layrnorm", -1, std::as_const(x).view());

    const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const Block& blk = blocks_[i];
      nn::layer_norm_rows(tag, pool, x.view(), blk.norm1_weight.view(), blk.norm1_bias.view(), eps, h.view());
      kernels::gemm(tag, std::as_const(h).view(), blk.qkv_weight.view(), blk.qkv_bias.view(), qkv.view(), pool);
      const std::array<std::int64_t, 3> strides{3 * D, Dh, 1};
      kernels::attention(tag, View<const float, 3>(qkv.data(), {R, H, Dh}, strides),
                         View<const float, 3>(qkv.data() + D, {R, H, Dh}, strides),
                         View<const float, 3>(qkv.data() + 2 * D, {R, H, Dh}, strides), kernels::SoftmaxMask{}, scale,
                         View<float, 3>(h.data(), {R, H, Dh}), pool);
      kernels::gemm(tag, std::as_const(h).view(), blk.out_weight.view(), blk.out_bias.view(), tmp.view(), pool);
      nn::add_rows(tag, pool, x.view(), tmp.view());
      nn::layer_norm_rows(tag, pool, x.view(), blk.norm2_weight.view(), blk.norm2_bias.view(), eps, h.view());
      kernels::gemm(tag, std::as_const(h).view(), blk.fc1_weight.view(), blk.fc1_bias.view(), mlp.view(), pool);
      nn::by_rows(pool, R, [&](std::int64_t r0, std::int64_t r1) {
        kernels::quick_gelu(tag, mlp.view().slice(0, r0, r1), mlp.view().slice(0, r0, r1));
      });
      kernels::gemm(tag, std::as_const(mlp).view(), blk.fc2_weight.view(), blk.fc2_bias.view(), tmp.view(), pool);
      nn::add_rows(tag, pool, x.view(), tmp.view());
      trace(tracer, "layer", static_cast<std::int64_t>(i), std::as_const(x).view());
    }
    nn::by_rows(pool, R, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) std::copy_n(x.data() + r * D, D, out.data() + r * out.stride(0));
    });
  }
  Tensor<float, 2> forward(View<const float, 2> patch_embeds, ThreadPool& pool = ThreadPool::global()) const {
    Tensor<float, 2> out({patch_embeds.shape(0) + 1, width()});
    forward(patch_embeds, out.view(), pool);
    return out;
  }

 private:
  ClipConfig config_;
  nn::Weight<float, 1> class_embedding_;
  nn::Weight<float, 2> position_embedding_;
  nn::Weight<Dense, 1> pre_norm_weight_, pre_norm_bias_;
  std::vector<Block> blocks_;
};

}  // namespace dsvl::vision
