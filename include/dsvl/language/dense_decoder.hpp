#pragma once
// DenseDecoder<P>: the LLaMA decoder of DeepSeek-VL v1 (transformers LlamaForCausalLM):
//   x = embed_tokens(ids)                                                  (T, D)
//   per layer:  x += o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))),  n = input_layernorm(x)
//               x += down_proj(silu(gate_proj(n)) * up_proj(n)),          n = post_attention_layernorm(x)
//   logits = lm_head(norm(x))                                              (T, V)
// RMSNorm with rms_norm_eps; rotate-half RoPE over the whole head dim, theta = rope_theta, at the
// positions of the KV cache; causal attention with scale Dh^-1/2, grouped-query when
// num_key_value_heads < num_attention_heads; no biases; lm_head is embed_tokens when
// tie_word_embeddings.
//
// Weights are declared once, in visit(), by their Hugging Face names relative to the decoder:
// "model.embed_tokens.weight", "model.layers.<i>.{input_layernorm,post_attention_layernorm}.weight",
// "model.layers.<i>.self_attn.{q,k,v,o}_proj.weight", "model.layers.<i>.mlp.{gate,up,down}_proj.weight",
// "model.norm.weight", "lm_head.weight". Inside a DeepSeek-VL v1 checkpoint they sit under
// "language_model." (load(ckpt, "language_model.")).
//
// P::weight_type (f32 or bf16) is how weights are stored; activations, the KV cache and every
// accumulation are f32 (bf16 weights are widened exactly by the kernels). A forward pass over
// T tokens runs the policy's kernels, each spread over the ThreadPool; a single token (decode)
// uses gemv for the projections.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/kernels/attention.hpp"
#include "dsvl/kernels/kernels.hpp"
#include "dsvl/language/kv_cache.hpp"
#include "dsvl/language/llama_config.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"

namespace dsvl::language {

// Which rows of logits a forward pass computes.
enum class LogitRows { all, last };

namespace detail {
// y = x · wᵀ for the rows of x: gemv for one row, gemm otherwise.
template <class Tag, class W>
void linear(Tag tag, View<const float, 2> x, View<const W, 2> w, View<float, 2> y, ThreadPool& pool) {
  if (x.shape(0) == 1) kernels::gemv(tag, x[0], w, View<const float, 1>{}, y[0], pool);
  else kernels::gemm(tag, x, w, View<const float, 1>{}, y, pool);
}

// Buffers of one forward pass over T tokens, shared by the layers.
struct DecoderWorkspace {
  Tensor<float, 2> x, n, q, attn, o, gate, up, cos, sin;
};
}  // namespace detail

// One decoder layer (transformers LlamaDecoderLayer).
template <KernelPolicy P>
struct LlamaDecoderLayer {
  using W = typename P::weight_type;

  explicit LlamaDecoderLayer(const LlamaConfig& c) : cfg(c) {}

  template <class V>
  void visit(V& v) {
    const std::int64_t D = cfg.hidden_size, Dh = cfg.head_dim(), I = cfg.intermediate_size;
    const std::int64_t Dq = cfg.num_attention_heads * Dh, Dkv = cfg.num_key_value_heads * Dh;
    v.weight("input_layernorm.weight", input_layernorm, {D});
    v.weight("self_attn.q_proj.weight", q_proj, {Dq, D});     // (out, in)
    v.weight("self_attn.k_proj.weight", k_proj, {Dkv, D});
    v.weight("self_attn.v_proj.weight", v_proj, {Dkv, D});
    v.weight("self_attn.o_proj.weight", o_proj, {D, Dq});
    v.weight("post_attention_layernorm.weight", post_attention_layernorm, {D});
    v.weight("mlp.gate_proj.weight", gate_proj, {I, D});
    v.weight("mlp.up_proj.weight", up_proj, {I, D});
    v.weight("mlp.down_proj.weight", down_proj, {D, I});
    v.unused("self_attn.rotary_emb.inv_freq");  // a buffer that older transformers saved
  }

  // x: (T, D), updated in place; the new keys and values go to rows [past, past + T) of k_cache
  // and v_cache (max_positions, Hkv, Dh), which attention then reads up to past + T.
  void forward(View<float, 2> x, View<float, 3> k_cache, View<float, 3> v_cache, std::int64_t past,
               detail::DecoderWorkspace& ws, ThreadPool& pool) const {
    const typename P::kernel_tag tag{};
    const std::int64_t T = x.shape(0), H = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads;
    const std::int64_t Dh = cfg.head_dim();
    const float eps = static_cast<float>(cfg.rms_norm_eps);
    auto n = ws.n.view(), q = ws.q.view(), attn = ws.attn.view(), o = ws.o.view();
    auto k_new = k_cache.slice(0, past, past + T), v_new = v_cache.slice(0, past, past + T);  // (T, Hkv, Dh)
    const View<float, 2> k_rows(k_new.data(), {T, Hkv * Dh}, {k_new.stride(0), 1});             // (T, Hkv Dh)
    const View<float, 2> v_rows(v_new.data(), {T, Hkv * Dh}, {v_new.stride(0), 1});

    kernels::rms_norm(tag, View<const float, 2>(x), input_layernorm.view(), eps, n);  // (T, D)
    detail::linear(tag, View<const float, 2>(n), q_proj.view(), q, pool);           // (T, H Dh)
    detail::linear(tag, View<const float, 2>(n), k_proj.view(), k_rows, pool);  // (T, Hkv Dh)
    detail::linear(tag, View<const float, 2>(n), v_proj.view(), v_rows, pool);
    const auto q3 = q.reshape<3>({T, H, Dh});  // (T, H, Dh)
    kernels::rope_half(tag, q3, ws.cos.view(), ws.sin.view());
    kernels::rope_half(tag, k_new, ws.cos.view(), ws.sin.view());
    kernels::attention(tag, View<const float, 3>(q3), View<const float, 3>(k_cache.slice(0, 0, past + T)),
                       View<const float, 3>(v_cache.slice(0, 0, past + T)), kernels::SoftmaxMask{past, -1},
                       1.0f / std::sqrt(static_cast<float>(Dh)), attn.reshape<3>({T, H, Dh}), pool);  // (T, H, Dh)
    detail::linear(tag, View<const float, 2>(attn), o_proj.view(), o, pool);  // (T, D)
    kernels::add(tag, View<const float, 2>(x), View<const float, 2>(o), x);

    kernels::rms_norm(tag, View<const float, 2>(x), post_attention_layernorm.view(), eps, n);
    auto gate = ws.gate.view(), up = ws.up.view();
    detail::linear(tag, View<const float, 2>(n), gate_proj.view(), gate, pool);  // (T, I)
    detail::linear(tag, View<const float, 2>(n), up_proj.view(), up, pool);      // (T, I)
    kernels::swiglu(tag, View<const float, 2>(gate), View<const float, 2>(up), gate);
    detail::linear(tag, View<const float, 2>(gate), down_proj.view(), o, pool);  // (T, D)
    kernels::add(tag, View<const float, 2>(x), View<const float, 2>(o), x);
  }

  LlamaConfig cfg;
  nn::Weight<W, 1> input_layernorm, post_attention_layernorm;
  nn::Weight<W, 2> q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;
};

template <KernelPolicy P>
class DenseDecoder {
 public:
  using W = typename P::weight_type;
  using Layer = LlamaDecoderLayer<P>;

  // Called with ("layer", i, hidden state after layer i) and ("norm", -1, final norm output),
  // each (T, D), during forward; for comparisons with the reference, unset by default.
  using Trace = std::function<void(std::string_view name, std::int64_t layer, View<const float, 2> value)>;

  // The weights are empty until loaded (load, or visit with a WeightLoader / WeightRandomInit).
  explicit DenseDecoder(const LlamaConfig& cfg) : cfg_(cfg) {
    check_config(cfg, "DenseDecoder");
    layers_.reserve(static_cast<std::size_t>(cfg.num_hidden_layers));
    for (std::int64_t i = 0; i < cfg.num_hidden_layers; ++i) layers_.emplace_back(cfg);
  }

  const LlamaConfig& config() const noexcept { return cfg_; }

  template <class V>
  void visit(V& v) {
    const std::int64_t D = cfg_.hidden_size, Vocab = cfg_.vocab_size;
    v.weight("model.embed_tokens.weight", embed_tokens_, {Vocab, D});
    v.layers("model.layers", layers_);
    v.weight("model.norm.weight", norm_, {D});
    if (!cfg_.tie_word_embeddings) v.weight("lm_head.weight", lm_head_, {Vocab, D});
  }

  // Binds every weight to the checkpoint tensor "<prefix><name>" and reports together every
  // missing, misshapen or unexpected tensor under `prefix` (dsvl::Error naming the checkpoint).
  // The checkpoint must outlive the decoder when P::weight_type is its dtype (zero copy).
  void load(const io::Checkpoint& ckpt, const std::string& prefix = {}) {
    nn::load_weights(*this, ckpt, prefix);
  }

  // An empty cache for up to max_positions tokens.
  KvCache make_cache(std::int64_t max_positions) const {
    return KvCache(cfg_.num_hidden_layers, max_positions, cfg_.num_key_value_heads, cfg_.head_dim());
  }

  // Rows of embed_tokens: ids (T) -> (T, D). Errors name an id outside [0, vocab_size).
  void embed(std::span<const std::int32_t> ids, View<float, 2> out) const {
    const std::int64_t D = cfg_.hidden_size;
    DSVL_CHECK(out.shape(0) == static_cast<std::int64_t>(ids.size()) && out.shape(1) == D && out.inner_contiguous(),
               "DenseDecoder::embed", "out is (", out.shape(0), ", ", out.shape(1), "), expected (", ids.size(), ", ",
               D, ")");
    const auto table = embed_tokens_.view();
    for (std::size_t t = 0; t < ids.size(); ++t) {
      const std::int32_t id = ids[t];
      if (id < 0 || id >= cfg_.vocab_size)
        fail("DenseDecoder::embed", "token id ", id, " at position ", t, " is outside [0, ", cfg_.vocab_size, ")");
      const W* row = table.data() + id * table.stride(0);
      float* dst = out.data() + static_cast<std::int64_t>(t) * out.stride(0);
      for (std::int64_t i = 0; i < D; ++i) dst[i] = to_f32(row[i]);
    }
  }
  Tensor<float, 2> embed(std::span<const std::int32_t> ids) const {
    Tensor<float, 2> out({static_cast<std::int64_t>(ids.size()), cfg_.hidden_size});
    embed(ids, out.view());
    return out;
  }

  // Runs T new tokens given as embeddings (T, D) after the cache.size() tokens already cached,
  // appends their keys and values to the cache, and writes logits: (T, V) for every row, or
  // (1, V) for the last row only (what generation needs). T = 0 leaves everything unchanged.
  // Errors: wrong shapes; more tokens than the cache has room for.
  void forward(View<const float, 2> embeddings, KvCache& cache, View<float, 2> logits,
               ThreadPool& pool = ThreadPool::global()) const {
    constexpr const char* where = "DenseDecoder::forward";
    const std::int64_t T = embeddings.shape(0), D = cfg_.hidden_size, past = cache.size();
    DSVL_CHECK(embeddings.shape(1) == D && embeddings.inner_contiguous(), where, "embeddings have ",
               embeddings.shape(1), " columns, hidden_size is ", D);
    DSVL_CHECK(cache.layers() == cfg_.num_hidden_layers && cache.keys(0).shape(1) == cfg_.num_key_value_heads &&
                   cache.keys(0).shape(2) == cfg_.head_dim(),
               where, "the cache was not made for this decoder (make_cache)");
    DSVL_CHECK(T <= cache.remaining(), where, "the cache holds ", past, " of ", cache.capacity(),
               " tokens, no room for ", T, " more");
    const std::int64_t rows = logits.shape(0);
    DSVL_CHECK(logits.shape(1) == cfg_.vocab_size && (rows == T || (rows == 1 && T >= 1)) && logits.inner_contiguous(),
               where, "logits are (", rows, ", ", logits.shape(1), "), expected (", T, " or 1, ", cfg_.vocab_size, ")");
    if (T == 0) return;
    const typename P::kernel_tag tag{};

    detail::DecoderWorkspace ws = workspace(T);
    std::vector<std::int32_t> positions(static_cast<std::size_t>(T));
    for (std::int64_t t = 0; t < T; ++t) positions[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(past + t);
    kernels::rope_cos_sin(View<const std::int32_t, 1>(positions.data(), {T}), static_cast<float>(cfg_.rope_theta),
                          cfg_.head_dim(), ws.cos.view(), ws.sin.view());  // (T, Dh / 2)

    auto x = ws.x.view();  // (T, D), the residual stream
    for (std::int64_t t = 0; t < T; ++t)
      std::copy_n(embeddings.data() + t * embeddings.stride(0), D, x.data() + t * D);
    for (std::int64_t l = 0; l < cfg_.num_hidden_layers; ++l) {
      layers_[static_cast<std::size_t>(l)].forward(x, cache.keys(l), cache.values(l), past, ws, pool);
      if (trace) trace("layer", l, x);
    }
    auto n = ws.n.view();
    kernels::rms_norm(tag, View<const float, 2>(x), norm_.view(), static_cast<float>(cfg_.rms_norm_eps), n);
    if (trace) trace("norm", -1, n);
    const View<const float, 2> head_in = rows == T ? View<const float, 2>(n) : View<const float, 2>(n.slice(0, T - 1, T));
    detail::linear(tag, head_in, lm_head(), logits, pool);  // (rows, V)
    cache.advance(T);
  }

  Tensor<float, 2> forward(View<const float, 2> embeddings, KvCache& cache, LogitRows which = LogitRows::all,
                           ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t T = embeddings.shape(0);
    Tensor<float, 2> logits({which == LogitRows::last && T > 0 ? 1 : T, cfg_.vocab_size});
    forward(embeddings, cache, logits.view(), pool);
    return logits;
  }

  // embed + forward.
  Tensor<float, 2> forward_ids(std::span<const std::int32_t> ids, KvCache& cache, LogitRows which = LogitRows::all,
                               ThreadPool& pool = ThreadPool::global()) const {
    const Tensor<float, 2> x = embed(ids);
    return forward(x.view(), cache, which, pool);
  }

  View<const W, 2> embed_tokens() const noexcept { return embed_tokens_.view(); }
  View<const W, 2> lm_head() const noexcept {
    return cfg_.tie_word_embeddings ? embed_tokens_.view() : lm_head_.view();
  }

  Trace trace;

 private:
  detail::DecoderWorkspace workspace(std::int64_t T) const {
    const std::int64_t D = cfg_.hidden_size, I = cfg_.intermediate_size, Dh = cfg_.head_dim();
    const std::int64_t Dq = cfg_.num_attention_heads * Dh;
    return {Tensor<float, 2>({T, D}), Tensor<float, 2>({T, D}),  Tensor<float, 2>({T, Dq}),
            Tensor<float, 2>({T, Dq}), Tensor<float, 2>({T, D}), Tensor<float, 2>({T, I}),
            Tensor<float, 2>({T, I}), Tensor<float, 2>({T, Dh / 2}), Tensor<float, 2>({T, Dh / 2})};
  }

  LlamaConfig cfg_;
  nn::Weight<W, 2> embed_tokens_;
  std::vector<Layer> layers_;
  nn::Weight<W, 1> norm_;
  nn::Weight<W, 2> lm_head_;
};

}  // namespace dsvl::language
