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
// P::weight_type (f32 or bf16) is how weights are stored; activations and every accumulation are
// f32 (bf16 weights are widened exactly by the kernels), the KV cache f32 or bf16 (make_cache). A
// forward pass over
// T tokens runs the policy's kernels, each spread over the ThreadPool; a single token (decode)
// uses gemv for the projections.
//
// Trace (core/trace.hpp; forward's and forward_ids' last argument): tensor events of rank 2,
// ("layer", i) the hidden state (T, D) after layer i and ("norm", -1) the final norm's output
// (T, D), named as the parity tests' fixtures name them.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/trace.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/attention.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/language/kv_cache.hpp"
#include "dsvl/language/llama_attention.hpp"
#include "dsvl/language/llama_config.hpp"
#include "dsvl/language/swiglu_mlp.hpp"
#include "dsvl/nn/embedding.hpp"
#include "dsvl/nn/linear.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"

namespace dsvl::language {

// Which rows of logits a forward pass computes.
enum class LogitRows { all, last };

// One decoder layer (transformers LlamaDecoderLayer).
template <KernelPolicy P>
struct LlamaDecoderLayer {

  explicit LlamaDecoderLayer(const LlamaConfig& c)
      : cfg(c),
        self_attn(c.hidden_size, c.num_attention_heads, c.num_key_value_heads),
        mlp(c.hidden_size, c.intermediate_size) {}

  template <class V>
  void visit(V& v) {
    v.weight("input_layernorm.weight", input_layernorm, {cfg.hidden_size});
    v.child("self_attn", self_attn);
    v.weight("post_attention_layernorm.weight", post_attention_layernorm, {cfg.hidden_size});
    v.child("mlp", mlp);
  }

  // x: (T, D), updated in place; the new keys and values go to rows [past, past + T) of k_cache
  // and v_cache (LlamaAttention::forward). cos, sin: the RoPE tables of the T positions.
  template <class KV>
  void forward(View<float, 2> x, View<KV, 3> k_cache, View<KV, 3> v_cache, std::int64_t past,
               View<const float, 2> cos, View<const float, 2> sin, ThreadPool& pool) const {
    const typename P::kernel_tag tag{};
    const float eps = static_cast<float>(cfg.rms_norm_eps);
    Tensor<float, 2> n(x.shape()), o(x.shape());
    kernels::rms_norm(tag, View<const float, 2>(x), input_layernorm.view(), eps, n.view());
    self_attn.forward(std::as_const(n).view(), k_cache, v_cache, past, cos, sin, o.view(), pool);
    kernels::add(tag, View<const float, 2>(x), std::as_const(o).view(), x);
    kernels::rms_norm(tag, View<const float, 2>(x), post_attention_layernorm.view(), eps, n.view());
    mlp.forward(std::as_const(n).view(), o.view(), pool);
    kernels::add(tag, View<const float, 2>(x), std::as_const(o).view(), x);
  }

  LlamaConfig cfg;
  nn::Weight<dense_weight_t<P>, 1> input_layernorm, post_attention_layernorm;
  LlamaAttention<P> self_attn;
  SwiGluMlp<P> mlp;
};

template <KernelPolicy P>
class DenseDecoder {
 public:
  using Layer = LlamaDecoderLayer<P>;

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

  // An empty cache for up to max_positions tokens, of f32 (the reference) or bf16 elements.
  KvCache make_cache(std::int64_t max_positions, DType dtype = DType::f32) const {
    return KvCache(cfg_.num_hidden_layers, max_positions, cfg_.num_key_value_heads, cfg_.head_dim(), cfg_.head_dim(),
                   dtype);
  }

  // Rows of embed_tokens: ids (T) -> (T, D). Errors name an id outside [0, vocab_size).
  void embed(std::span<const std::int32_t> ids, View<float, 2> out) const {
    nn::embedding(embed_tokens_.view(), ids, out, "DenseDecoder::embed");
  }
  Tensor<float, 2> embed(std::span<const std::int32_t> ids) const {
    Tensor<float, 2> out({static_cast<std::int64_t>(ids.size()), cfg_.hidden_size});
    embed(ids, out.view());
    return out;
  }

  // Runs T new tokens given as embeddings (T, D) after the cache.size() tokens already cached,
  // appends their keys and values to the cache, and writes logits: (T, V) for every row, or
  // (1, V) for the last row only (what generation needs). T = 0 leaves everything unchanged.
  // Errors: wrong shapes; more tokens than the cache has room for. `tracer`: see the top of this
  // file.
  template <class Tracer = NoTrace>
  void forward(View<const float, 2> embeddings, KvCache& cache, View<float, 2> logits,
               ThreadPool& pool = ThreadPool::global(), Tracer&& tracer = {}) const {
    constexpr const char* where = "DenseDecoder::forward";
    const std::int64_t T = embeddings.shape(0), D = cfg_.hidden_size, past = cache.size();
    DSVL_CHECK(embeddings.shape(1) == D && embeddings.inner_contiguous(), where, "embeddings have ",
               embeddings.shape(1), " columns, hidden_size is ", D);
    DSVL_CHECK(cache.layers() == cfg_.num_hidden_layers && cache.kv_heads() == cfg_.num_key_value_heads &&
                   cache.key_dim() == cfg_.head_dim() && cache.value_dim() == cfg_.head_dim(),
               where, "the cache was not made for this decoder (make_cache)");
    DSVL_CHECK(T <= cache.remaining(), where, "the cache holds ", past, " of ", cache.capacity(),
               " tokens, no room for ", T, " more");
    const std::int64_t rows = logits.shape(0);
    DSVL_CHECK(logits.shape(1) == cfg_.vocab_size && (rows == T || (rows == 1 && T >= 1)) && logits.inner_contiguous(),
               where, "logits are (", rows, ", ", logits.shape(1), "), expected (", T, " or 1, ", cfg_.vocab_size, ")");
    if (T == 0) return;
    const typename P::kernel_tag tag{};

    std::vector<std::int32_t> positions(static_cast<std::size_t>(T));
    for (std::int64_t t = 0; t < T; ++t) positions[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(past + t);
    Tensor<float, 2> cos({T, cfg_.head_dim() / 2}), sin({T, cfg_.head_dim() / 2});
    kernels::rope_cos_sin(View<const std::int32_t, 1>(positions.data(), {T}), static_cast<float>(cfg_.rope_theta),
                          cfg_.head_dim(), cos.view(), sin.view());  // (T, Dh / 2)

    Tensor<float, 2> x({T, D});  // the residual stream
    for (std::int64_t t = 0; t < T; ++t)
      std::copy_n(embeddings.data() + t * embeddings.stride(0), D, x.data() + t * D);
    for (std::int64_t l = 0; l < cfg_.num_hidden_layers; ++l) {
      cache.with_layer(l, [&](auto keys, auto values) {
        layers_[static_cast<std::size_t>(l)].forward(x.view(), keys, values, past, std::as_const(cos).view(),
                                                     std::as_const(sin).view(), pool);
      });
      trace(tracer, "layer", l, std::as_const(x).view());
    }
    Tensor<float, 2> n({T, D});
    kernels::rms_norm(tag, std::as_const(x).view(), norm_.view(), static_cast<float>(cfg_.rms_norm_eps), n.view());
    trace(tracer, "norm", -1, std::as_const(n).view());
    const View<const float, 2> head_in = rows == T ? std::as_const(n).view() : std::as_const(n).view().slice(0, T - 1, T);
    if (cfg_.tie_word_embeddings) nn::linear(tag, head_in, embed_tokens_.view(), logits, pool);  // (rows, V)
    else nn::linear(tag, head_in, lm_head_.view(), logits, pool);
    cache.advance(T);
  }

  template <class Tracer = NoTrace>
  Tensor<float, 2> forward(View<const float, 2> embeddings, KvCache& cache, LogitRows which = LogitRows::all,
                           ThreadPool& pool = ThreadPool::global(), Tracer&& tracer = {}) const {
    const std::int64_t T = embeddings.shape(0);
    Tensor<float, 2> logits({which == LogitRows::last && T > 0 ? 1 : T, cfg_.vocab_size});
    forward(embeddings, cache, logits.view(), pool, tracer);
    return logits;
  }

  // embed + forward.
  template <class Tracer = NoTrace>
  Tensor<float, 2> forward_ids(std::span<const std::int32_t> ids, KvCache& cache, LogitRows which = LogitRows::all,
                               ThreadPool& pool = ThreadPool::global(), Tracer&& tracer = {}) const {
    const Tensor<float, 2> x = embed(ids);
    return forward(x.view(), cache, which, pool, tracer);
  }

  View<const dense_weight_t<P>, 2> embed_tokens() const noexcept { return embed_tokens_.view(); }

 private:
  LlamaConfig cfg_;
  nn::Weight<dense_weight_t<P>, 2> embed_tokens_;
  std::vector<Layer> layers_;
  nn::Weight<dense_weight_t<P>, 1> norm_;
  nn::Weight<head_weight_t<P>, 2> lm_head_;  // unused when tie_word_embeddings
};

}  // namespace dsvl::language
