#pragma once
// SamVit<P>: SAM's ViTDet image encoder as DeepSeek's models run it, sizes from a SamConfig: the
// high-resolution branch of DeepSeek-VL 7B with its neck, HD path and downsampling convolutions
// (deepseek_vl/models/sam.py, ImageEncoderViT from create_sam_vit("sam_b_downsample"); hd_branch),
// and DeepSeek-OCR's SAM-B (deepencoder/sam_vary_sdpa.py, build_sam_vit_b; no HD path):
//
//   x = patch_embed(pixels) + pos_embed        conv k = s = 16, channels last (G, G, D), G = 64
//                                              (DeepSeek-OCR, another side s: G = s / 16, and
//                                              pos_embed resized to G x G, bicubic with antialias,
//                                              align_corners=False, as get_abs_pos does)
//   for each block i:                          pre-norm, exact GELU
//     h = norm1(x)
//     window blocks: h zero-padded at the bottom and right to a multiple of window_size (after
//       norm1, so the padded tokens are zeros and, unmasked, take part as keys and values), split
//       into windows (row-major, tokens row-major inside)
//     x = x + proj(rel_pos_attention(qkv(h)))  per window or over the whole grid, then cropped
//     x = x + lin2(gelu(lin1(norm2(x))))
//   neck(x) = LN2d(conv3x3(LN2d(conv1x1(x))))  no conv biases, padding 1, channels first (C, G, G)
//   DeepSeek-OCR: out = net_3(net_2(neck(x_last)))      conv3x3 s2 p1, no bias: (C2, G/4, G/4)
//   DeepSeek-VL 7B:
//   main = downsamples(resize96(neck(x_last)))          resize: bilinear, align_corners=False;
//   hd   = downsamples(resize96(neck_hd(x_hd)))         downsamples: conv3x3 s2 p1 twice, no
//   out  = main + hd_alpha_downsamples * hd             bias, nothing between; x_hd is the
//                                                       output of block config.hd_block()
//   features = out as (K, C_out), row-major over the output grid (576 = 24x24 for DeepSeek-VL)
//
// Attention with decomposed relative positions, per head, on an S x S grid of tokens (S = window
// size, or G in global blocks), q row t = (qh, qw):
//   logits[t, (kh, kw)] = scale * q_t . k_(kh,kw) + q_t . rel_pos_h[qh - kh + S - 1]
//                                                 + q_t . rel_pos_w[qw - kw + S - 1]
// with scale = head_dim^-0.5 applied to the q . k term only (the official code adds the
// relative terms computed from the unscaled q), then softmax over the keys and times v:
// kernels::attention with a kernels::RelPos2d. A global block on a grid other than the stored
// one reads its tables linearly interpolated from 2G - 1 to 2S - 1 rows (get_rel_pos:
// F.interpolate mode "linear", align_corners=False).
//
// Weights, by their checkpoint names under the prefix given to the loader
// ("vision_model.vision_tower_high.vision_tower." for DeepSeek-VL 7B):
//   patch_embed.proj.weight (D, 3, 16, 16) .bias (D)   pos_embed (1, G, G, D)
//   blocks.<i>.{norm1,norm2}.{weight,bias} (D)
//   blocks.<i>.attn.qkv.weight (3D, D) .bias (3D)      blocks.<i>.attn.proj.weight (D, D) .bias (D)
//   blocks.<i>.attn.rel_pos_h, rel_pos_w (2S - 1, Dh): (27, Dh) in window blocks, (2G - 1, Dh) in
//                                                       global blocks
//   blocks.<i>.mlp.lin1.weight (M, D) .bias (M)         blocks.<i>.mlp.lin2.weight (D, M) .bias (D)
//   neck.0.weight (C, D, 1, 1)  neck.1.{weight,bias} (C)  neck.2.weight (C, C, 3, 3)
//   neck.3.{weight,bias} (C)    neck_hd.* the same
//   downsamples.0.weight (C1, C, 3, 3)  downsamples.1.weight (C2, C1, 3, 3)
//   hd_alpha_downsamples (1)
// and without the HD path (DeepSeek-OCR, prefix "model.sam_model."): no neck_hd, no
// hd_alpha_downsamples, and the two convolutions named net_2.weight (C1, C, 3, 3) and
// net_3.weight (C2, C1, 3, 3).
// The blocks' matrices are stored as P::weight_type (a quantized format rounds them at load,
// docs/quantization.md); convolution kernels and LayerNorm parameters as dense_weight_t<P>;
// biases, pos_embed, the rel-pos tables and hd_alpha_downsamples as f32 (a bf16 checkpoint
// converts to them exactly).
//
// Forward: pixels (3, S, S), f32, S = image_size (without the HD path, any multiple of the patch
// size), for DeepSeek-VL 7B normalised with CLIP's mean and std,
// (x - (0.48145466, 0.4578275, 0.40821073)) / (0.26862954, 0.26130258, 0.27577711) per channel
// on the processor's [0, 1] pixels (DeepSeek-VL 7B's processor leaves do_normalize off; its
// HybridVisionTower normalises the high-resolution input itself: vision::normalize with
// kClipPixelNorm; DeepSeek-OCR's processor normalises with 0.5 and 0.5) -> features
// (num_tokens_at(S), C2). GEMMs, convolutions and attention run on the given ThreadPool.
//
// Trace (core/trace.hpp), tensor events of rank 2 named as in the reference fixtures:
// ("patch_embed", -1) (G*G, D) before pos_embed is added, ("block", i) (G*G, D) after block i,
// channels last; from head: ("neck", -1) and ("neck_hd", -1) (C, G*G), ("downsamples", -1) and
// ("downsamples_hd", -1) (C2, 576), channels first, the latter before the hd_alpha_downsamples
// factor; without the HD path ("neck", -1), ("net_2", -1) (C1, (G/2)^2) and ("net_3", -1)
// (C2, (G/4)^2), channels first.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
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
#include "dsvl/vision/sam_config.hpp"

namespace dsvl::vision {

template <KernelPolicy P>
class SamVit {
  static_assert(P::kernel_tag::on_host,
                "dsvl::vision::SamVit runs on host policies (scalar, xsimd, Highway); there is no CUDA version of "
                "this block yet");

 public:
  using W = typename P::weight_type;
  using Dense = dense_weight_t<P>;
  using Tag = typename P::kernel_tag;

  // One ViTDet block; `side` is the attention grid's side (window_size or G).
  struct Block {
    std::int64_t width = 0, head_dim = 0, mlp_dim = 0, side = 0;
    bool global = false;
    nn::Weight<Dense, 1> norm1_weight, norm1_bias, norm2_weight, norm2_bias;
    nn::Weight<W, 2> qkv_weight, proj_weight, lin1_weight, lin2_weight;
    nn::Weight<float, 1> qkv_bias, proj_bias, lin1_bias, lin2_bias;
    nn::Weight<float, 2> rel_pos_h, rel_pos_w;

    template <class V>
    void visit(V& v) {
      const std::int64_t D = width, M = mlp_dim;
      v.weight("norm1.weight", norm1_weight, {D});
      v.weight("norm1.bias", norm1_bias, {D});
      v.weight("attn.qkv.weight", qkv_weight, {3 * D, D});
      v.weight("attn.qkv.bias", qkv_bias, {3 * D});
      v.weight("attn.proj.weight", proj_weight, {D, D});
      v.weight("attn.proj.bias", proj_bias, {D});
      v.weight("attn.rel_pos_h", rel_pos_h, {2 * side - 1, head_dim});
      v.weight("attn.rel_pos_w", rel_pos_w, {2 * side - 1, head_dim});
      v.weight("norm2.weight", norm2_weight, {D});
      v.weight("norm2.bias", norm2_bias, {D});
      v.weight("mlp.lin1.weight", lin1_weight, {M, D});
      v.weight("mlp.lin1.bias", lin1_bias, {M});
      v.weight("mlp.lin2.weight", lin2_weight, {D, M});
      v.weight("mlp.lin2.bias", lin2_bias, {D});
    }
  };

  // conv1x1 -> LayerNorm2d -> conv3x3 -> LayerNorm2d, no conv biases (`neck` and `neck_hd`).
  struct Neck {
    std::int64_t in = 0, out = 0;
    nn::Weight<Dense, 4> conv1, conv2;
    nn::Weight<Dense, 1> norm1_weight, norm1_bias, norm2_weight, norm2_bias;

    template <class V>
    void visit(V& v) {
      v.weight("0.weight", conv1, {out, in, 1, 1});
      v.weight("1.weight", norm1_weight, {out});
      v.weight("1.bias", norm1_bias, {out});
      v.weight("2.weight", conv2, {out, out, 3, 3});
      v.weight("3.weight", norm2_weight, {out});
      v.weight("3.bias", norm2_bias, {out});
    }
  };

  explicit SamVit(SamConfig c) : config_(std::move(c)) {
    check_config(config_, "SamVit");
    blocks_.resize(static_cast<std::size_t>(config_.layers));
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      Block& b = blocks_[i];
      b.width = config_.width;
      b.head_dim = config_.head_dim();
      b.mlp_dim = config_.mlp_dim();
      b.global = config_.is_global(static_cast<std::int64_t>(i));
      b.side = config_.attn_side(static_cast<std::int64_t>(i));
    }
    neck_.in = neck_hd_.in = config_.width;
    neck_.out = neck_hd_.out = config_.prompt_embed_dim;
  }

  const SamConfig& config() const noexcept { return config_; }
  const std::vector<Block>& blocks() const noexcept { return blocks_; }
  std::int64_t num_patches() const noexcept { return config_.num_patches(); }
  std::int64_t width() const noexcept { return config_.width; }
  std::int64_t num_tokens() const noexcept { return config_.num_tokens(); }
  std::int64_t num_tokens_at(std::int64_t side) const noexcept { return config_.num_tokens_at(side); }
  std::int64_t out_dim() const noexcept { return config_.out_dim(); }

  // The one weight declaration (names relative to the tower; see the top of this file).
  template <class V>
  void visit(V& v) {
    const std::int64_t D = config_.width, p = config_.patch_size, G = config_.grid();
    const std::int64_t C = config_.prompt_embed_dim, C1 = config_.downsample_channels[0],
                       C2 = config_.downsample_channels[1];
    v.weight("patch_embed.proj.weight", patch_weight_, {D, 3, p, p});
    v.weight("patch_embed.proj.bias", patch_bias_, {D});
    v.weight("pos_embed", pos_embed_, {1, G, G, D});
    v.layers("blocks", blocks_);
    v.child("neck", neck_);
    if (config_.hd_branch) {
      v.child("neck_hd", neck_hd_);
      v.weight("downsamples.0.weight", down0_, {C1, C, 3, 3});
      v.weight("downsamples.1.weight", down1_, {C2, C1, 3, 3});
      v.weight("hd_alpha_downsamples", hd_alpha_, {1});
    } else {
      v.weight("net_2.weight", down0_, {C1, C, 3, 3});
      v.weight("net_3.weight", down1_, {C2, C1, 3, 3});
    }
  }

  // Binds every weight to the tensor `prefix` + name of `ckpt` (which must outlive this model when
  // its dtype is P::weight_type), then reports in one dsvl::Error every missing or misshapen
  // tensor and every tensor under `prefix` that is not declared.
  void load(const io::Checkpoint& ckpt, const std::string& prefix) {
    nn::load_weights(*this, ckpt, prefix);
  }

  // pixels (3, S, S) -> out (num_tokens_at(S), C2).
  template <class Tracer = NoTrace>
  void forward(View<const float, 3> pixels, View<float, 2> out, ThreadPool& pool = ThreadPool::global(),
               Tracer&& tracer = {}) const {
    const std::int64_t S = pixels.shape(1), G = config_.grid_at(S), N = G * G, D = width();
    DSVL_CHECK(out.shape(0) == num_tokens_at(S) && out.shape(1) == out_dim() && out.inner_contiguous(),
               "SamVit::forward", "out is (", out.shape(0), ", ", out.shape(1), "), expected (", num_tokens_at(S), ", ",
               out_dim(), ") with a contiguous last dimension");
    Tensor<float, 2> x({N, D}), tap({config_.hd_branch ? N : 0, D});
    embed(pixels, x.view(), pool);
    trace(tracer, "patch_embed", -1, std::as_const(x).view());
    add_pos_embed(x.view(), pool);
    for (std::int64_t i = 0; i < config_.layers; ++i) {
      block(i, x.view(), pool);
      trace(tracer, "block", i, std::as_const(x).view());
      if (config_.hd_branch && i == config_.hd_block()) std::copy_n(x.data(), x.size(), tap.data());
    }
    head(std::as_const(x).view(), std::as_const(tap).view(), out, pool, tracer);
  }
  Tensor<float, 2> forward(View<const float, 3> pixels, ThreadPool& pool = ThreadPool::global()) const {
    Tensor<float, 2> out({num_tokens_at(pixels.shape(1)), out_dim()});
    forward(pixels, out.view(), pool);
    return out;
  }

  // The steps of forward, for callers that start or stop in between. Each takes the token grid
  // x (G*G, D), channels last, and reads G from its rows.

  // x (G*G, D) = patch_embed(pixels), channels last, before pos_embed.
  void embed(View<const float, 3> pixels, View<float, 2> x, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t S = pixels.shape(1), p = config_.patch_size, G = config_.grid_at(S), N = G * G, D = width();
    const bool any_side = !config_.hd_branch;
    DSVL_CHECK(pixels.shape(0) == 3 && pixels.shape(2) == S && (any_side ? S >= p && S % p == 0 : S == config_.image_size),
               "SamVit::forward", "pixels are (", pixels.shape(0), ", ", pixels.shape(1), ", ", pixels.shape(2),
               "), expected ",
               any_side ? "(3, S, S) with S a multiple of the patch size " + std::to_string(p)
                        : "(3, " + std::to_string(config_.image_size) + ", " + std::to_string(config_.image_size) + ")");
    DSVL_CHECK(grid_of(x, "x") == G, "SamVit::forward", "x has ", x.shape(0), " rows, expected ", N);
    DSVL_CHECK(patch_weight_.size() > 0, "SamVit::forward", "the weights are not loaded");
    Tensor<float, 3> conv({D, G, G});
    kernels::conv2d(Tag{}, pixels, patch_weight_.view(), patch_bias_.view(), kernels::Conv2dParams{p, 0}, conv.view(),
                    pool);
    kernels::detail::transpose_rows(conv.data(), N, D, N, x.data());
  }

  // The position table for a G x G grid (G*G, D): pos_embed, resized when G is not the stored grid.
  Tensor<float, 2> pos_embed_at(std::int64_t G, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t G0 = config_.grid(), D = width();
    Tensor<float, 2> out({G * G, D});
    if (G == G0) {
      std::copy_n(pos_embed_.view().data(), out.size(), out.data());
      return out;
    }
    Tensor<float, 3> src({D, G0, G0}), dst({D, G, G});
    kernels::detail::transpose_rows(pos_embed_.view().data(), D, G0 * G0, D, src.data());
    pool.parallel_for(0, D, [&](std::int64_t c0, std::int64_t c1) {
      kernels::interpolate(Tag{}, std::as_const(src).view().slice(0, c0, c1),
                           kernels::InterpParams{kernels::InterpMode::bicubic, false, true}, dst.view().slice(0, c0, c1));
    });
    kernels::detail::transpose_rows(dst.data(), G * G, D, G * G, out.data());
    return out;
  }

  // x += pos_embed (resized to x's grid).
  void add_pos_embed(View<float, 2> x, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t G = grid_of(x, "x");
    Tensor<float, 2> resized;
    View<const float, 2> pos(pos_embed_.view().data(), {num_patches(), width()});
    if (G != config_.grid()) {
      resized = pos_embed_at(G, pool);
      pos = resized.view();
    }
    nn::by_rows(pool, x.shape(0), [&](std::int64_t r0, std::int64_t r1) {
      kernels::add(Tag{}, View<const float, 2>(x.slice(0, r0, r1)), pos.slice(0, r0, r1), x.slice(0, r0, r1));
    });
  }

  // Block i on x (G*G, D), channels last, in place.
  void block(std::int64_t i, View<float, 2> x, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t G = grid_of(x, "x");
    DSVL_CHECK(i >= 0 && i < config_.layers, "SamVit::block", "block ", i, " of ", config_.layers);
    const Block& blk = blocks_[static_cast<std::size_t>(i)];
    const Tag tag{};
    const float eps = static_cast<float>(config_.layer_norm_eps);
    const std::int64_t N = G * G, D = width(), M = config_.mlp_dim();
    const std::int64_t S = blk.global ? G : blk.side, L = S * S;
    const std::int64_t per_side = blk.global ? 1 : config_.padded_grid_at(G) / S;  // windows per side
    const std::int64_t nwin = per_side * per_side, T = nwin * L;                   // attention rows

    Tensor<float, 2> h({N, D});
    nn::layer_norm_rows(tag, pool, x, blk.norm1_weight.view(), blk.norm1_bias.view(), eps, h.view());
    // The attention input, windows after one another (the normed grid itself in global blocks).
    Tensor<float, 2> win;
    View<const float, 2> a = h.view();
    if (!blk.global) {
      win = Tensor<float, 2>({T, D});
      pool.parallel_for(0, nwin * S, [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) {  // r = window * S + row inside it
          const std::int64_t w = r / S, wy = w / per_side, wx = w % per_side, y = wy * S + r % S;
          float* dst = win.data() + r * S * D;
          if (y >= G) {
            std::fill_n(dst, S * D, 0.0f);
            continue;
          }
          const std::int64_t x0 = wx * S, n = std::min(S, G - x0);
          std::copy_n(h.data() + (y * G + x0) * D, n * D, dst);
          std::fill_n(dst + n * D, (S - n) * D, 0.0f);
        }
      });
      a = win.view();
    }
    Tensor<float, 2> qkv({T, 3 * D});
    kernels::gemm(tag, a, blk.qkv_weight.view(), blk.qkv_bias.view(), qkv.view(), pool);
    Tensor<float, 2> att({T, D});
    attention(blk, S, nwin, std::as_const(qkv).view(), att.view(), pool);
    // Windows back to the grid, cropped.
    View<const float, 2> o = att.view();
    if (!blk.global) {
      pool.parallel_for(0, G, [&](std::int64_t y0, std::int64_t y1) {
        for (std::int64_t y = y0; y < y1; ++y)
          for (std::int64_t wx = 0; wx < per_side; ++wx) {
            const std::int64_t w = (y / S) * per_side + wx, x0 = wx * S, n = std::min(S, G - x0);
            if (n <= 0) continue;
            std::copy_n(att.data() + ((w * S + y % S) * S) * D, n * D, h.data() + (y * G + x0) * D);
          }
      });
      o = h.view();
    }
    Tensor<float, 2> tmp({N, D});
    kernels::gemm(tag, o, blk.proj_weight.view(), blk.proj_bias.view(), tmp.view(), pool);
    nn::add_rows(tag, pool, x, tmp.view());
    // x = x + lin2(gelu(lin1(norm2(x))))
    nn::layer_norm_rows(tag, pool, x, blk.norm2_weight.view(), blk.norm2_bias.view(), eps, h.view());
    Tensor<float, 2> mlp({N, M});
    kernels::gemm(tag, std::as_const(h).view(), blk.lin1_weight.view(), blk.lin1_bias.view(), mlp.view(), pool);
    nn::by_rows(pool, N, [&](std::int64_t r0, std::int64_t r1) {
      kernels::gelu_erf(tag, mlp.view().slice(0, r0, r1), mlp.view().slice(0, r0, r1));
    });
    kernels::gemm(tag, std::as_const(mlp).view(), blk.lin2_weight.view(), blk.lin2_bias.view(), tmp.view(), pool);
    nn::add_rows(tag, pool, x, tmp.view());
  }

  // neck(x) (C, G*G) of a block output x (G*G, D); `hd` picks neck_hd.
  void neck(View<const float, 2> x, bool hd, View<float, 2> y, ThreadPool& pool = ThreadPool::global()) const {
    const Neck& nk = hd ? neck_hd_ : neck_;
    const std::int64_t G = grid_of(x, "x"), N = G * G, D = width(), C = nk.out;
    DSVL_CHECK(y.shape(0) == C && y.shape(1) == N && y.stride(0) == N && y.stride(1) == 1, "SamVit::neck", "y is (",
               y.shape(0), ", ", y.shape(1), "), expected a packed (", C, ", ", N, ")");
    const Tag tag{};
    const auto eps = static_cast<float>(config_.layer_norm2d_eps);
    Tensor<float, 3> t({D, G, G}), a({C, G, G}), b({C, G, G});
    kernels::detail::transpose_rows(x.data(), D, N, D, t.data());
    kernels::conv2d(tag, std::as_const(t).view(), nk.conv1.view(), View<const float, 1>{}, kernels::Conv2dParams{1, 0},
                    a.view(), pool);
    kernels::layer_norm2d(tag, std::as_const(a).view(), nk.norm1_weight.view(), nk.norm1_bias.view(), eps, b.view());
    kernels::conv2d(tag, std::as_const(b).view(), nk.conv2.view(), View<const float, 1>{}, kernels::Conv2dParams{1, 1},
                    a.view(), pool);
    kernels::layer_norm2d(tag, std::as_const(a).view(), nk.norm2_weight.view(), nk.norm2_bias.view(), eps,
                          View<float, 3>(y.data(), {C, G, G}));
  }

  // The two downsampling convolutions (C2, O*O) of a neck output n (C, G*G), after the resize to
  // neck_resize where there is one; `mid` (C1, M*M), if given, receives the first one's output.
  void downsample(View<const float, 2> n, View<float, 2> y, ThreadPool& pool = ThreadPool::global(),
                  View<float, 2> mid = {}) const {
    const std::int64_t C = config_.prompt_embed_dim, G = square_side(n.shape(1)), R = config_.neck_out_grid(G);
    const std::int64_t C1 = config_.downsample_channels[0], C2 = config_.downsample_channels[1];
    const std::int64_t G1 = SamConfig::conv_s2_out(R), G2 = SamConfig::conv_s2_out(G1);
    DSVL_CHECK(n.shape(0) == C && G * G == n.shape(1) && n.stride(0) == n.shape(1) && n.stride(1) == 1,
               "SamVit::downsample", "input is (", n.shape(0), ", ", n.shape(1), "), expected a packed (", C,
               ", G*G)");
    DSVL_CHECK(y.shape(0) == C2 && y.shape(1) == G2 * G2 && y.stride(0) == G2 * G2 && y.stride(1) == 1,
               "SamVit::downsample", "y is (", y.shape(0), ", ", y.shape(1), "), expected a packed (", C2, ", ",
               G2 * G2, ")");
    DSVL_CHECK(mid.size() == 0 || (mid.shape(0) == C1 && mid.shape(1) == G1 * G1 && mid.stride(0) == G1 * G1),
               "SamVit::downsample", "mid is (", mid.shape(0), ", ", mid.shape(1), "), expected a packed (", C1, ", ",
               G1 * G1, ")");
    const Tag tag{};
    const View<const float, 3> in(n.data(), {C, G, G});
    Tensor<float, 3> r, m({C1, G1, G1});
    View<const float, 3> src = in;
    if (config_.neck_resize > 0) {
      r = Tensor<float, 3>({C, R, R});
      pool.parallel_for(0, C, [&](std::int64_t c0, std::int64_t c1) {
        kernels::interpolate(tag, in.slice(0, c0, c1), kernels::InterpParams{}, r.view().slice(0, c0, c1));
      });
      src = r.view();
    }
    kernels::conv2d(tag, src, down0_.view(), View<const float, 1>{}, kernels::Conv2dParams{2, 1}, m.view(), pool);
    if (mid.size() > 0) std::copy_n(m.data(), m.size(), mid.data());
    kernels::conv2d(tag, std::as_const(m).view(), down1_.view(), View<const float, 1>{}, kernels::Conv2dParams{2, 1},
                    View<float, 3>(y.data(), {C2, G2, G2}), pool);
  }

  // out (K, C2): with the HD path (downsample(neck(last)) + hd_alpha_downsamples *
  // downsample(neck_hd(tap)))ᵀ; without it downsample(neck(last))ᵀ, and `tap` is not read.
  template <class Tracer = NoTrace>
  void head(View<const float, 2> last, View<const float, 2> tap, View<float, 2> out,
            ThreadPool& pool = ThreadPool::global(), Tracer&& tracer = {}) const {
    const std::int64_t G = grid_of(last, "last"), N = G * G, C = config_.prompt_embed_dim, C2 = out_dim();
    const std::int64_t G2 = SamConfig::conv_s2_out(SamConfig::conv_s2_out(config_.neck_out_grid(G))), K = G2 * G2;
    DSVL_CHECK(out.shape(0) == K && out.shape(1) == C2 && out.inner_contiguous(), "SamVit::head", "out is (",
               out.shape(0), ", ", out.shape(1), "), expected (", K, ", ", C2, ")");
    Tensor<float, 2> n({C, N}), d({C2, K});
    neck(last, false, n.view(), pool);
    trace(tracer, "neck", -1, std::as_const(n).view());
    if (!config_.hd_branch) {
      const std::int64_t G1 = SamConfig::conv_s2_out(G);
      Tensor<float, 2> mid({config_.downsample_channels[0], G1 * G1});
      downsample(std::as_const(n).view(), d.view(), pool, mid.view());
      trace(tracer, "net_2", -1, std::as_const(mid).view());
      trace(tracer, "net_3", -1, std::as_const(d).view());
      kernels::detail::transpose_rows(d.data(), K, C2, K, out.data());
      return;
    }
    Tensor<float, 2> dhd({C2, K});
    downsample(std::as_const(n).view(), d.view(), pool);
    trace(tracer, "downsamples", -1, std::as_const(d).view());
    neck(tap, true, n.view(), pool);
    trace(tracer, "neck_hd", -1, std::as_const(n).view());
    downsample(std::as_const(n).view(), dhd.view(), pool);
    trace(tracer, "downsamples_hd", -1, std::as_const(dhd).view());
    const float alpha = hd_alpha_.view()(0);
    for (std::int64_t c = 0; c < C2; ++c)
      for (std::int64_t t = 0; t < K; ++t) out(t, c) = d(c, t) + alpha * dhd(c, t);
  }

 private:
  // G of a packed (G*G, D) token grid x; without the HD path any G >= 1, else the stored grid.
  template <class T>
  std::int64_t grid_of(View<T, 2> x, const char* name) const {
    const std::int64_t G = square_side(x.shape(0));
    DSVL_CHECK(G >= 1 && (!config_.hd_branch || G == config_.grid()) && x.shape(1) == width() &&
                   x.stride(0) == width() && x.stride(1) == 1,
               "SamVit", name, " is (", x.shape(0), ", ", x.shape(1), "), expected a packed (G*G, ", width(), ")",
               config_.hd_branch ? " with G = " + std::to_string(config_.grid()) : std::string());
    return G;
  }

  // A block's rel-pos table for an attention side S: as stored (2 side - 1 rows) or linearly
  // interpolated to 2S - 1 rows.
  static Tensor<float, 2> rel_pos_at(View<const float, 2> table, std::int64_t S) {
    const std::int64_t L = table.shape(0), Dh = table.shape(1), L2 = 2 * S - 1;
    Tensor<float, 3> src({Dh, 1, L}), dst({Dh, 1, L2});
    kernels::detail::transpose_rows(table.data(), Dh, L, Dh, src.data());
    // Bilinear over a 1-row image: the row axis maps 1 -> 1 exactly, the other is F.interpolate's
    // linear mode.
    kernels::interpolate(Tag{}, std::as_const(src).view(), kernels::InterpParams{}, dst.view());
    Tensor<float, 2> out({L2, Dh});
    kernels::detail::transpose_rows(dst.data(), L2, Dh, L2, out.data());
    return out;
  }

  // Attention with decomposed relative positions over `nwin` grids of side S one after another
  // in qkv (T, 3D) -> out (T, D), one kernels::attention call per grid.
  void attention(const Block& blk, std::int64_t S, std::int64_t nwin, View<const float, 2> qkv, View<float, 2> out,
                 ThreadPool& pool) const {
    const std::int64_t D = width(), H = config_.heads, Dh = config_.head_dim(), L = S * S;
    Tensor<float, 2> rh, rw;
    kernels::RelPos2d rel{blk.rel_pos_h.view(), blk.rel_pos_w.view()};
    if (S != blk.side) {
      rh = rel_pos_at(blk.rel_pos_h.view(), S);
      rw = rel_pos_at(blk.rel_pos_w.view(), S);
      rel = {rh.view(), rw.view()};
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
    const std::int64_t ld = qkv.stride(0);
    for (std::int64_t w = 0; w < nwin; ++w) {
      const float* base = qkv.data() + w * L * ld;
      const View<const float, 3> q(base, {L, H, Dh}, {ld, Dh, 1}), k(base + D, {L, H, Dh}, {ld, Dh, 1}),
          v(base + 2 * D, {L, H, Dh}, {ld, Dh, 1});
      kernels::attention(Tag{}, q, k, v, rel, scale, View<float, 3>(out.data() + w * L * out.stride(0), {L, H, Dh},
                                                                    {out.stride(0), Dh, 1}),
                         pool);
    }
  }

  SamConfig config_;
  nn::Weight<Dense, 4> patch_weight_;
  nn::Weight<float, 1> patch_bias_;
  nn::Weight<float, 4> pos_embed_;
  std::vector<Block> blocks_;
  Neck neck_, neck_hd_;
  nn::Weight<Dense, 4> down0_, down1_;
  nn::Weight<float, 1> hd_alpha_;
};

}  // namespace dsvl::vision
