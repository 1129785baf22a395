#pragma once
// SiglipVit<P> (sizes from a VitConfig value) or SiglipVit<P, kPreset> (sizes fixed at compile
// time, the same results): the SigLIP vision transformer of DeepSeek-VL (SigLIP-L/16 at 384) and
// DeepSeek-VL2 (SigLIP-SO400M/14 at 384), as the official code runs timm's VisionTransformer with
// class_token=False, global_pool="map", ignore_head=True (deepseek_vl/models/siglip_vit.py,
// deepseek_vl2/models/siglip_vit.py), i.e. its forward_features:
//
//   x = patch_embed(pixels) + pos_embed       conv k = s = patch_size, flattened row-major  (N, D)
//   for each of the depth() blocks:           pre-norm; LayerScale and DropPath are identities
//     x = x + proj(attention(qkv(norm1(x))))  qkv rows [q | k | v], heads of Dh contiguous,
//                                             softmax(q kᵀ / sqrt(Dh)) v, no mask
//     x = x + fc2(gelu(fc1(norm2(x))))         exact GELU (v1), tanh GELU when gelu_tanh (VL2)
//   x = norm(x)                               final LayerNorm (when final_norm)
//
// Every LayerNorm uses eps = layer_norm_eps (1e-6). There is no class token and no interpolation
// of pos_embed: the pixels must be image_size square. With patch 14 at 384 the grid is 27x27 and
// pixels 378..383 of each row and column are never read (timm's strict PatchEmbed).
//
// Weights, by their checkpoint names under the prefix given to the loader
// ("vision_model.vision_tower." for DeepSeek-VL 1.3B, "vision_model.vision_tower_low.vision_tower."
// for 7B, "vision." for DeepSeek-VL2):
//   patch_embed.proj.weight (D, 3, p, p)  patch_embed.proj.bias (D)  pos_embed (1, N, D)
//   blocks.<i>.{norm1,norm2}.{weight,bias} (D)
//   blocks.<i>.attn.qkv.weight (3D, D) .bias (3D)    blocks.<i>.attn.proj.weight (D, D) .bias (D)
//   blocks.<i>.mlp.fc1.weight (M, D) .bias (M)       blocks.<i>.mlp.fc2.weight (D, M) .bias (D)
//   norm.{weight,bias} (D)
// The attention-pool head (attn_pool.*) and blocks past depth() are declared unused. The four
// matrices of each block are stored as P::weight_type (a quantized format rounds them at load,
// docs/quantization.md); the patch kernel and the LayerNorm parameters as dense_weight_t<P>;
// biases and pos_embed as f32 (the kernels add them in f32; a bf16 checkpoint converts to them
// exactly).
//
// Forward: pixels (3, S, S) or a batch (B, 3, S, S), f32, already normalised to [-1, 1]
// (DeepSeek-VL's CLIPVisionTower applies (x - 0.5) / 0.5 to the processor's [0, 1] pixels before
// its ViT, see vision/preprocess.hpp; DeepSeek-VL2's processor normalises) -> features (N, D) or
// (B, N, D), row-major over the patch grid. GEMMs, the patch embedding and attention run on the
// given ThreadPool; the row-wise kernels are split over its threads by rows.
//
// Trace (core/trace.hpp), tensor events of rank 3, the whole batch (B, N, D) as the reference
// names them: ("patch_embed", -1) before pos_embed is added, ("block", i) after block i, ("norm",
// -1) the final output (only when final_norm). The one-image forward traces a batch of one.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/trace.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/attention.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/nn/row_parallel.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/vit_config.hpp"

namespace dsvl::vision {

template <KernelPolicy P, VitConfig Fixed = kDynamicVit>
class SiglipVit {
  static_assert(P::kernel_tag::on_host,
                "dsvl::vision::SiglipVit runs on host policies (scalar, xsimd, Highway); there is no CUDA "
                "version of this block yet");

 public:
  using W = typename P::weight_type;
  using Dense = dense_weight_t<P>;
  using Tag = typename P::kernel_tag;
  // True when a preset fixes the sizes at compile time (SiglipVit<P, kSiglipLarge16_384>).
  static constexpr bool is_fixed = !(Fixed == kDynamicVit);

  // One pre-norm transformer block (timm's Block with Attention and Mlp).
  struct Block {
    std::int64_t width = 0, mlp_dim = 0;
    nn::Weight<Dense, 1> norm1_weight, norm1_bias, norm2_weight, norm2_bias;
    nn::Weight<W, 2> qkv_weight, proj_weight, fc1_weight, fc2_weight;
    nn::Weight<float, 1> qkv_bias, proj_bias, fc1_bias, fc2_bias;

    template <class V>
    void visit(V& v) {
      const std::int64_t D = width, M = mlp_dim;
      v.weight("norm1.weight", norm1_weight, {D});
      v.weight("norm1.bias", norm1_bias, {D});
      v.weight("attn.qkv.weight", qkv_weight, {3 * D, D});
      v.weight("attn.qkv.bias", qkv_bias, {3 * D});
      v.weight("attn.proj.weight", proj_weight, {D, D});
      v.weight("attn.proj.bias", proj_bias, {D});
      v.weight("norm2.weight", norm2_weight, {D});
      v.weight("norm2.bias", norm2_bias, {D});
      v.weight("mlp.fc1.weight", fc1_weight, {M, D});
      v.weight("mlp.fc1.bias", fc1_bias, {M});
      v.weight("mlp.fc2.weight", fc2_weight, {D, M});
      v.weight("mlp.fc2.bias", fc2_bias, {D});
    }
  };

  // Sizes read at run time; with a compile-time preset, `c` must equal it (an error names the
  // first field that differs).
  explicit SiglipVit(const VitConfig& c) : config_(c) {
    if constexpr (is_fixed) check_matches_preset(c, Fixed, "SiglipVit");
    check_config(config_, "SiglipVit");
    blocks_.resize(static_cast<std::size_t>(config().depth()));
    for (auto& b : blocks_) {
      b.width = config().width;
      b.mlp_dim = config().mlp_dim();
    }
  }

  SiglipVit()
    requires is_fixed
      : SiglipVit(Fixed) {}

  // The config; a compile-time constant with a preset.
  constexpr const VitConfig& config() const noexcept {
    if constexpr (is_fixed) return Fixed;
    else return config_;
  }
  std::int64_t num_patches() const noexcept { return config().num_patches(); }
  std::int64_t width() const noexcept { return config().width; }
  const std::vector<Block>& blocks() const noexcept { return blocks_; }

  // The one weight declaration (names relative to the tower; see the top of this file).
  template <class V>
  void visit(V& v) {
    const std::int64_t D = config().width, p = config().patch_size, N = config().num_patches();
    v.weight("patch_embed.proj.weight", patch_weight_, {D, 3, p, p});
    v.weight("patch_embed.proj.bias", patch_bias_, {D});
    v.weight("pos_embed", pos_embed_, {1, N, D});
    v.layers("blocks", blocks_);
    for (std::int64_t i = config().depth(); i < config().layers; ++i) v.unused("blocks." + std::to_string(i) + ".");
    if (config().final_norm) {
      v.weight("norm.weight", norm_weight_, {D});
      v.weight("norm.bias", norm_bias_, {D});
    } else {
      v.unused("norm.");
    }
    v.unused("attn_pool.");
  }

  // Binds every weight to the tensor `prefix` + name of `ckpt` (which must outlive this model when
  // its dtype is P::weight_type: those are borrowed, not copied), then reports in one dsvl::Error
  // every missing or misshapen tensor and every tensor under `prefix` that is not declared.
  void load(const io::Checkpoint& ckpt, const std::string& prefix) {
    nn::load_weights(*this, ckpt, prefix);
  }

  // One image: pixels (3, S, S) with S = image_size -> out (N, D).
  template <class Tracer = NoTrace>
  void forward(View<const float, 3> pixels, View<float, 2> out, ThreadPool& pool = ThreadPool::global(),
               Tracer&& tracer = {}) const {
    const View<const float, 4> batch(pixels.data(), {1, pixels.shape(0), pixels.shape(1), pixels.shape(2)},
                                     {0, pixels.stride(0), pixels.stride(1), pixels.stride(2)});
    const View<float, 3> out3(out.data(), {1, out.shape(0), out.shape(1)}, {0, out.stride(0), out.stride(1)});
    forward(batch, out3, pool, tracer);
  }
  Tensor<float, 2> forward(View<const float, 3> pixels, ThreadPool& pool = ThreadPool::global()) const {
    Tensor<float, 2> out({num_patches(), width()});
    forward(pixels, out.view(), pool);
    return out;
  }

  // A batch: pixels (B, 3, S, S) -> out (B, N, D). The images share every GEMM (B*N rows);
  // attention runs per image.
  template <class Tracer = NoTrace>
  void forward(View<const float, 4> pixels, View<float, 3> out, ThreadPool& pool = ThreadPool::global(),
               Tracer&& tracer = {}) const {
    const std::int64_t B = pixels.shape(0), S = config().image_size, N = num_patches(), D = width();
    const std::int64_t G = config().grid(), H = config().heads, Dh = config().head_dim(), M = config().mlp_dim();
    DSVL_CHECK(pixels.shape(1) == 3 && pixels.shape(2) == S && pixels.shape(3) == S, "SiglipVit::forward",
               "pixels are (", B, ", ", pixels.shape(1), ", ", pixels.shape(2), ", ", pixels.shape(3),
               "), expected (B, 3, ", S, ", ", S, ")");
    DSVL_CHECK(out.shape(0) == B && out.shape(1) == N && out.shape(2) == D && out.inner_contiguous(),
               "SiglipVit::forward", "out is (", out.shape(0), ", ", out.shape(1), ", ", out.shape(2),
               "), expected (", B, ", ", N, ", ", D, ") with a contiguous last dimension");
    DSVL_CHECK(patch_weight_.size() > 0 || D == 0, "SiglipVit::forward", "the weights are not loaded");
    const Tag tag{};
    const float eps = static_cast<float>(config().layer_norm_eps);
    const std::int64_t R = B * N;  // rows of every GEMM

    Tensor<float, 2> x({R, D});          // residual stream
    Tensor<float, 2> h({R, D});          // normed input of a sub-block, then attention output
    Tensor<float, 2> qkv({R, 3 * D});    // [q | k | v]
    Tensor<float, 2> tmp({R, D});        // sub-block output before the residual add
    Tensor<float, 2> mlp({R, M});        // MLP hidden
    Tensor<float, 3> conv({D, G, G});    // patch embedding, channels first

    // Patch embedding: conv2d, then (D, G, G) -> (N, D) with pos_embed added.
    const View<const float, 2> pos = pos_embed_.view()[0];
    const View<const float, 3> xs(x.data(), {B, N, D});  // the residual stream per image
    for (std::int64_t b = 0; b < B; ++b) {
      kernels::conv2d(tag, pixels[b], patch_weight_.view(), patch_bias_.view(),
                      kernels::Conv2dParams{config().patch_size, 0}, conv.view(), pool);
      float* xb = x.data() + b * N * D;
      const float* c = conv.data();
      pool.parallel_for(0, N, [&](std::int64_t n0, std::int64_t n1) {
        for (std::int64_t n = n0; n < n1; ++n)
          for (std::int64_t d = 0; d < D; ++d) xb[n * D + d] = c[d * N + n];
      });
    }
    trace(tracer, "patch_embed", -1, xs);
    for (std::int64_t b = 0; b < B; ++b) {
      const View<float, 2> xv(x.data() + b * N * D, {N, D});
      nn::by_rows(pool, N, [&](std::int64_t r0, std::int64_t r1) {
        kernels::add(tag, xv.slice(0, r0, r1), pos.slice(0, r0, r1), xv.slice(0, r0, r1));
      });
    }

    const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const Block& blk = blocks_[i];
      // x = x + proj(attention(qkv(norm1(x))))
      nn::layer_norm_rows(tag, pool, x.view(), blk.norm1_weight.view(), blk.norm1_bias.view(), eps, h.view());
      kernels::gemm(tag, std::as_const(h).view(), blk.qkv_weight.view(), blk.qkv_bias.view(), qkv.view(), pool);
      for (std::int64_t b = 0; b < B; ++b) {
        const float* base = qkv.data() + b * N * 3 * D;
        const std::array<std::int64_t, 3> qkv_strides{3 * D, Dh, 1};
        const View<const float, 3> q(base, {N, H, Dh}, qkv_strides);          // (N, H, Dh)
        const View<const float, 3> k(base + D, {N, H, Dh}, qkv_strides);      // (N, H, Dh)
        const View<const float, 3> v(base + 2 * D, {N, H, Dh}, qkv_strides);  // (N, H, Dh)
        const View<float, 3> o(h.data() + b * N * D, {N, H, Dh});             // (N, H, Dh)
        kernels::attention(tag, q, k, v, kernels::SoftmaxMask{}, scale, o, pool);
      }
      kernels::gemm(tag, std::as_const(h).view(), blk.proj_weight.view(), blk.proj_bias.view(), tmp.view(), pool);
      nn::add_rows(tag, pool, x.view(), tmp.view());
      // x = x + fc2(gelu(fc1(norm2(x))))
      nn::layer_norm_rows(tag, pool, x.view(), blk.norm2_weight.view(), blk.norm2_bias.view(), eps, h.view());
      kernels::gemm(tag, std::as_const(h).view(), blk.fc1_weight.view(), blk.fc1_bias.view(), mlp.view(), pool);
      nn::by_rows(pool, R, [&](std::int64_t r0, std::int64_t r1) {
        if (config().gelu_tanh) kernels::gelu_tanh(tag, mlp.view().slice(0, r0, r1), mlp.view().slice(0, r0, r1));
        else kernels::gelu_erf(tag, mlp.view().slice(0, r0, r1), mlp.view().slice(0, r0, r1));
      });
      kernels::gemm(tag, std::as_const(mlp).view(), blk.fc2_weight.view(), blk.fc2_bias.view(), tmp.view(), pool);
      nn::add_rows(tag, pool, x.view(), tmp.view());
      trace(tracer, "block", static_cast<std::int64_t>(i), xs);
    }

    for (std::int64_t b = 0; b < B; ++b) {
      const View<const float, 2> xb(x.data() + b * N * D, {N, D});
      const View<float, 2> ob = out[b];
      if (config().final_norm) {
        nn::layer_norm_rows(tag, pool, xb, norm_weight_.view(), norm_bias_.view(), eps, ob);
      } else {
        nn::by_rows(pool, N, [&](std::int64_t r0, std::int64_t r1) {
          for (std::int64_t r = r0; r < r1; ++r) std::copy_n(xb.data() + r * D, D, ob.data() + r * ob.stride(0));
        });
      }
    }
    if (config().final_norm) trace(tracer, "norm", -1, out);
  }
  Tensor<float, 3> forward(View<const float, 4> pixels, ThreadPool& pool = ThreadPool::global()) const {
    Tensor<float, 3> out({pixels.shape(0), num_patches(), width()});
    forward(pixels, out.view(), pool);
    return out;
  }

 private:
  VitConfig config_;
  nn::Weight<Dense, 4> patch_weight_;
  nn::Weight<float, 1> patch_bias_;
  nn::Weight<float, 3> pos_embed_;
  std::vector<Block> blocks_;
  nn::Weight<Dense, 1> norm_weight_, norm_bias_;
};

}  // namespace dsvl::vision
