#pragma once
// LlamaAttention<P>: multi-head or grouped-query causal self-attention with rotate-half RoPE
// (transformers LlamaAttention; DeepSeek-VL v1's decoder and DeepSeek-VL2-Tiny's, spec.md 1.5, 5.3):
//   q = rope(q_proj(x)), k = rope(k_proj(x)), v = v_proj(x), per head of Dh = D / H dims,
//   y = o_proj(softmax(q kᵀ / sqrt(Dh), causal) v),  no biases.
// RoPE rotates all Dh dims; keys are cached after RoPE (KvCache, Hkv heads of Dh).

#include <cmath>
#include <cstdint>

#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/attention.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/language/kv_cache.hpp"
#include "dsvl/nn/linear.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"

namespace dsvl::language {

template <KernelPolicy P>
struct LlamaAttention {
  using W = typename P::weight_type;

  LlamaAttention(std::int64_t hidden, std::int64_t heads, std::int64_t kv_heads)
      : hidden_size(hidden), num_heads(heads), num_kv_heads(kv_heads) {}

  std::int64_t head_dim() const noexcept { return hidden_size / num_heads; }

  template <class V>
  void visit(V& v) {
    const std::int64_t D = hidden_size, Dq = num_heads * head_dim(), Dkv = num_kv_heads * head_dim();
    v.weight("q_proj.weight", q_proj, {Dq, D});  // (out, in)
    v.weight("k_proj.weight", k_proj, {Dkv, D});
    v.weight("v_proj.weight", v_proj, {Dkv, D});
    v.weight("o_proj.weight", o_proj, {D, Dq});
    v.unused("rotary_emb.inv_freq");  // a buffer that older transformers saved
  }

  // x: (T, D), the normalised hidden states of T new tokens after `past` cached ones; their keys
  // and values go to rows [past, past + T) of k_cache and v_cache (max_positions, Hkv, Dh), f32 or
  // bf16 (KvCache), which attention then reads up to past + T. cos, sin: (T, Dh / 2) at positions
  // past.. past + T - 1. y: (T, D).
  template <class KV>
  void forward(View<const float, 2> x, View<KV, 3> k_cache, View<KV, 3> v_cache, std::int64_t past,
               View<const float, 2> cos, View<const float, 2> sin, View<float, 2> y, ThreadPool& pool) const {
    const typename P::kernel_tag tag{};
    const std::int64_t T = x.shape(0), H = num_heads, Hkv = num_kv_heads, Dh = head_dim();
    Tensor<float, 3> q({T, H, Dh}), k({T, Hkv, Dh}), v({T, Hkv, Dh}), attn({T, H, Dh});
    nn::linear(tag, x, q_proj.view(), q.view().template reshape<2>({T, H * Dh}), pool);
    nn::linear(tag, x, k_proj.view(), k.view().template reshape<2>({T, Hkv * Dh}), pool);
    nn::linear(tag, x, v_proj.view(), v.view().template reshape<2>({T, Hkv * Dh}), pool);
    kernels::rope_half(tag, q.view(), cos, sin);
    kernels::rope_half(tag, k.view(), cos, sin);
    store_rows(std::as_const(k).view(), k_cache, past);
    store_rows(std::as_const(v).view(), v_cache, past);
    kernels::attention(tag, std::as_const(q).view(), View<const KV, 3>(k_cache.slice(0, 0, past + T)),
                       View<const KV, 3>(v_cache.slice(0, 0, past + T)), kernels::SoftmaxMask{past, -1},
                       1.0f / std::sqrt(static_cast<float>(Dh)), attn.view(), pool);
    nn::linear(tag, View<const float, 2>(attn.view().template reshape<2>({T, H * Dh})), o_proj.view(), y, pool);
  }

  std::int64_t hidden_size, num_heads, num_kv_heads;
  nn::Weight<W, 2> q_proj, k_proj, v_proj, o_proj;
};

}  // namespace dsvl::language
