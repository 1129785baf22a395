#pragma once
// MlaAttention<P>: Multi-head Latent Attention of DeepSeek-V2 (official DeepseekV2Attention with
// q_lora_rank null; spec.md 5.4). H heads; r = kv_lora_rank, dn = qk_nope_head_dim,
// dr = qk_rope_head_dim, dv = v_head_dim, dqk = dn + dr. For token t:
//   q = q_proj(x) (H, dqk) = [q_nope (dn) | q_pe (dr)] per head
//   [c_raw (r) | k_pe (dr)] = kv_a_proj_with_mqa(x);  c = RMSNorm(c_raw; kv_a_layernorm)
//   q_pe, k_pe rotated by the interleaved RoPE (kernels::rope_interleaved); k_pe is one key shared
//   by every head.
//   kv_b_proj (H (dn + dv), r), per head [W_UK (dn, r) ; W_UV (dv, r)]:
//   k_h = [W_UK[h] c ; k_pe],  v_h = W_UV[h] c,  y = o_proj(concat_h softmax(q_h · k_h / sqrt(dqk)) v_h).
//
// The cache holds only [c | roped k_pe] per token: one key head of r + dr values
// (KvCache(layers, positions, 1, r + dr, 0)), 576 floats per token and layer for VL2-Small and
// Base against 2 H 128 for the expanded keys and values. Two exact rewritings of the same
// attention read it:
//   expanded: k_h and v_h are rebuilt for every cached token (kv_b_proj as one GEMM), then
//     attention with dqk-dim keys and dv-dim values; cheapest for a long prefill.
//   absorbed: kv_b_proj folded into the query and the output: q̃_h = W_UK[h]ᵀ q_nope_h (r), so
//     q_h · k_h = [q̃_h | q_pe_h] · [c | k_pe]; the attention is multi-query over the cached rows
//     themselves (values: their first r dims) and o_h = W_UV[h] (Σ p c). Cheapest when few
//     queries read many cached tokens (decode).
// Both scale scores by dqk^-1/2. forward picks the one with fewer multiply-adds unless told.
// W_UK is split off kv_b_proj and transposed once, when the weights are bound (derive_weights).

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/attention.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/language/deepseek_v2_config.hpp"
#include "dsvl/language/kv_cache.hpp"
#include "dsvl/nn/linear.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"

namespace dsvl::language {

enum class MlaForm { automatic, expanded, absorbed };

template <KernelPolicy P>
struct MlaAttention {
  using W = typename P::weight_type;
  using Dense = dense_weight_t<P>;  // kv_b_proj is read in two layouts (expanded, absorbed)

  explicit MlaAttention(const DeepseekV2Config& c)
      : H(c.num_attention_heads), D(c.hidden_size), r(c.kv_lora_rank), dn(c.qk_nope_head_dim),
        dr(c.qk_rope_head_dim), dv(c.v_head_dim), eps(static_cast<float>(c.rms_norm_eps)) {}

  std::int64_t latent_dim() const noexcept { return r + dr; }  // cached values per token

  template <class V>
  void visit(V& v) {
    v.weight("q_proj.weight", q_proj, {H * (dn + dr), D});  // (out, in)
    v.weight("kv_a_proj_with_mqa.weight", kv_a_proj_with_mqa, {r + dr, D});
    v.weight("kv_a_layernorm.weight", kv_a_layernorm, {r});
    v.weight("kv_b_proj.weight", kv_b_proj, {H * (dn + dv), r});
    v.weight("o_proj.weight", o_proj, {D, H * dv});
  }

  // W_UK[h]ᵀ (r, dn) for every head, from kv_b_proj (absorbed queries: q̃_h = W_UK[h]ᵀ q_nope_h).
  void derive_weights() {
    if (kv_b_proj.size() != H * (dn + dv) * r) return;  // not bound; the loader reports it
    const auto kv = kv_b_proj.view();
    View<Dense, 3> t = w_uk_t.allocate({H, r, dn});
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t i = 0; i < dn; ++i)
        for (std::int64_t j = 0; j < r; ++j) t(h, j, i) = kv(h * (dn + dv) + i, j);
  }

  // x: (T, D), the normalised hidden states of T new tokens after `past` cached ones; their
  // latent rows go to rows [past, past + T) of `latent` (max_positions, 1, r + dr), f32 or bf16,
  // which the attention then reads up to past + T. cos, sin: (T, dr / 2). y: (T, D).
  template <class KV>
  void forward(View<const float, 2> x, View<KV, 3> latent, std::int64_t past, View<const float, 2> cos,
               View<const float, 2> sin, View<float, 2> y, ThreadPool& pool, MlaForm form = MlaForm::automatic) const {
    const typename P::kernel_tag tag{};
    const std::int64_t T = x.shape(0), S = past + T, dqk = dn + dr;
    DSVL_CHECK(latent.shape(1) == 1 && latent.shape(2) == r + dr && latent.inner_contiguous(), "MlaAttention",
               "the latent cache has rows of ", latent.shape(1), " x ", latent.shape(2), ", expected 1 x ", r + dr);
    Tensor<float, 3> q({T, H, dqk}), fresh({T, 1, r + dr});  // fresh: the new latent rows
    nn::linear(tag, x, q_proj.view(), q.view().template reshape<2>({T, H * dqk}), pool);
    const View<float, 2> rows = fresh.view().template reshape<2>({T, r + dr});
    nn::linear(tag, x, kv_a_proj_with_mqa.view(), rows, pool);  // [c_raw | k_pe]
    const View<float, 2> c_new(rows.data(), {T, r}, {rows.stride(0), 1});
    kernels::rms_norm(tag, View<const float, 2>(c_new), kv_a_layernorm.view(), eps, c_new);
    kernels::rope_interleaved(tag, View<float, 3>(rows.data() + r, {T, 1, dr}, {rows.stride(0), dr, 1}), cos, sin);
    kernels::rope_interleaved(tag, View<float, 3>(q.data() + dn, {T, H, dr}, {H * dqk, dqk, 1}), cos, sin);
    store_rows(std::as_const(fresh).view(), latent, past);

    const float scale = 1.0f / std::sqrt(static_cast<float>(dqk));
    const View<const KV, 2> cache(latent.data(), {S, r + dr}, {latent.stride(0), 1});
    const kernels::SoftmaxMask mask{past, -1};
    Tensor<float, 3> o({T, H, dv});
    if (form == MlaForm::automatic) form = absorbed_is_cheaper(T, S) ? MlaForm::absorbed : MlaForm::expanded;
    if (form == MlaForm::expanded) {
      // kv (S, H, dn + dv) = kv_b_proj(c); keys [k_nope_h | k_pe] (S, H, dqk); values kv[..., dn:].
      // kv_b_proj reads the latent rows as f32: a bf16 cache is widened first.
      Tensor<float, 2> widened;
      View<const float, 2> c;
      if constexpr (std::is_same_v<KV, float>) {
        c = cache;
      } else {
        widened = Tensor<float, 2>({S, r + dr});
        for (std::int64_t s = 0; s < S; ++s)
          for (std::int64_t j = 0; j < r + dr; ++j) widened(s, j) = to_f32(cache(s, j));
        c = std::as_const(widened).view();
      }
      Tensor<float, 3> kv({S, H, dn + dv}), k({S, H, dqk});
      nn::linear(tag, View<const float, 2>(c.data(), {S, r}, {c.stride(0), 1}), kv_b_proj.view(),
                 kv.view().template reshape<2>({S, H * (dn + dv)}), pool);
      for (std::int64_t s = 0; s < S; ++s)
        for (std::int64_t h = 0; h < H; ++h) {
          std::copy_n(&kv(s, h, 0), dn, &k(s, h, 0));
          std::copy_n(c.data() + s * c.stride(0) + r, dr, &k(s, h, dn));
        }
      const View<const float, 3> v(kv.data() + dn, {S, H, dv}, {H * (dn + dv), dn + dv, 1});
      kernels::attention(tag, std::as_const(q).view(), std::as_const(k).view(), v, mask, scale, o.view(), pool);
    } else {
      // Queries [q̃_h | q_pe_h] (T, H, r + dr) against the cached rows, values their first r dims.
      Tensor<float, 3> qa({T, H, r + dr}), oa({T, H, r});
      for (std::int64_t h = 0; h < H; ++h) {
        const View<const float, 2> q_nope(q.data() + h * dqk, {T, dn}, {H * dqk, 1});
        nn::linear(tag, q_nope, View<const Dense, 2>(w_uk_t.view().data() + h * r * dn, {r, dn}),
                   View<float, 2>(qa.data() + h * (r + dr), {T, r}, {H * (r + dr), 1}), pool);
        for (std::int64_t t = 0; t < T; ++t) std::copy_n(&q(t, h, dn), dr, &qa(t, h, r));
      }
      const View<const KV, 3> keys(cache.data(), {S, 1, r + dr}, {cache.stride(0), r + dr, 1});
      const View<const KV, 3> values(cache.data(), {S, 1, r}, {cache.stride(0), r, 1});
      kernels::attention(tag, std::as_const(qa).view(), keys, values, mask, scale, oa.view(), pool);
      const auto kv = kv_b_proj.view();
      for (std::int64_t h = 0; h < H; ++h)  // o_h = W_UV[h] (Σ p c)
        nn::linear(tag, View<const float, 2>(oa.data() + h * r, {T, r}, {H * r, 1}),
                   View<const Dense, 2>(kv.data() + (h * (dn + dv) + dn) * r, {dv, r}),
                   View<float, 2>(o.data() + h * dv, {T, dv}, {H * dv, 1}), pool);
    }
    nn::linear(tag, View<const float, 2>(o.view().template reshape<2>({T, H * dv})), o_proj.view(), y, pool);
  }

  // Multiply-adds of the two forms for T queries over S tokens.
  bool absorbed_is_cheaper(std::int64_t T, std::int64_t S) const noexcept {
    const std::int64_t expanded = S * r * H * (dn + dv) + T * H * S * (dn + dr + dv);
    const std::int64_t absorbed = T * H * (dn * r + S * (2 * r + dr) + r * dv);
    return absorbed < expanded;
  }

  std::int64_t H, D, r, dn, dr, dv;
  float eps;
  nn::Weight<W, 2> q_proj, kv_a_proj_with_mqa, o_proj;
  nn::Weight<Dense, 2> kv_b_proj;
  nn::Weight<Dense, 1> kv_a_layernorm;
  nn::Weight<Dense, 3> w_uk_t;  // derived: (H, r, dn)
};

}  // namespace dsvl::language
