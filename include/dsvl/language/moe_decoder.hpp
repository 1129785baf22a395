#pragma once
// MoeDecoder<P>: the DeepSeekMoE decoder of DeepSeek-VL2 (official DeepseekV2ForCausalLM,
// spec.md 5.2):
//   x = embed_tokens(ids)                                                    (T, D)
//   per layer l:  x += self_attn(input_layernorm(x))
//                 x += mlp(post_attention_layernorm(x))
//   logits = lm_head(norm(x))                                                (T, V)
// self_attn is MLA (MlaAttention, use_mla) or LlamaAttention (VL2-Tiny); mlp is a dense SwiGLU
// MLP (intermediate_size) or a DeepSeekMoE block (DeepseekV2Config::is_moe_layer). RMSNorm with
// rms_norm_eps; RoPE theta rope_theta over qk_rope_head_dim (MLA, interleaved pairs) or the whole
// head (LlamaAttention, rotate-half); causal attention.
//
// Weights by their official names relative to the decoder: "model.embed_tokens.weight",
// "model.layers.<i>.{input_layernorm,post_attention_layernorm}.weight",
// "model.layers.<i>.self_attn.*", "model.layers.<i>.mlp.*", "model.norm.weight",
// "lm_head.weight". Inside a DeepSeek-VL2 checkpoint they sit under "language.".
//
// Activations and every accumulation are f32; P::weight_type is how weights are stored. The cache
// (make_cache, f32 or bf16) holds MLA's latent rows (kv_lora_rank + qk_rope_head_dim values per
// token and layer) or LlamaAttention's keys and values.
//
// Trace (core/trace.hpp; forward's and forward_ids' last argument): tensor events of rank 2,
// ("layer", i) the hidden state (T, D) after layer i and ("norm", -1) the final norm's output
// (T, D), as DenseDecoder; and, for a tracer with an overload taking it, ("routing", i,
// const ExpertChoice&) after each MoE layer i (the choice is only kept for such a tracer).

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/trace.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/language/deepseek_moe.hpp"
#include "dsvl/language/deepseek_v2_config.hpp"
#include "dsvl/language/dense_decoder.hpp"
#include "dsvl/language/kv_cache.hpp"
#include "dsvl/language/llama_attention.hpp"
#include "dsvl/language/mla_attention.hpp"
#include "dsvl/language/swiglu_mlp.hpp"
#include "dsvl/nn/embedding.hpp"
#include "dsvl/nn/linear.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"

namespace dsvl::language {

// One decoder layer (official DeepseekV2DecoderLayer).
template <KernelPolicy P>
struct DeepseekV2DecoderLayer {

  DeepseekV2DecoderLayer(const DeepseekV2Config& c, std::int64_t layer) : cfg(c) {
    if (c.use_mla) mla.emplace(c);
    else mha.emplace(c.hidden_size, c.num_attention_heads, c.num_key_value_heads);
    if (c.is_moe_layer(layer)) moe.emplace(c);
    else dense.emplace(c.hidden_size, c.intermediate_size);
  }

  template <class V>
  void visit(V& v) {
    v.weight("input_layernorm.weight", input_layernorm, {cfg.hidden_size});
    if (mla) v.child("self_attn", *mla);
    else v.child("self_attn", *mha);
    v.weight("post_attention_layernorm.weight", post_attention_layernorm, {cfg.hidden_size});
    if (moe) v.child("mlp", *moe);
    else v.child("mlp", *dense);
  }

  // x: (T, D), updated in place, after `past` cached tokens (keys, values: this layer's cache).
  template <class KV>
  void forward(View<float, 2> x, View<KV, 3> keys, View<KV, 3> values, std::int64_t past,
               View<const float, 2> cos, View<const float, 2> sin, ThreadPool& pool, MlaForm form,
               ExpertChoice* choice) const {
    const typename P::kernel_tag tag{};
    const float eps = static_cast<float>(cfg.rms_norm_eps);
    Tensor<float, 2> n(x.shape()), o(x.shape());
    kernels::rms_norm(tag, View<const float, 2>(x), input_layernorm.view(), eps, n.view());
    if (mla) mla->forward(std::as_const(n).view(), keys, past, cos, sin, o.view(), pool, form);
    else mha->forward(std::as_const(n).view(), keys, values, past, cos, sin, o.view(), pool);
    kernels::add(tag, View<const float, 2>(x), std::as_const(o).view(), x);
    kernels::rms_norm(tag, View<const float, 2>(x), post_attention_layernorm.view(), eps, n.view());
    if (moe) moe->forward(std::as_const(n).view(), o.view(), pool, choice);
    else dense->forward(std::as_const(n).view(), o.view(), pool);
    kernels::add(tag, View<const float, 2>(x), std::as_const(o).view(), x);
  }

  DeepseekV2Config cfg;
  nn::Weight<dense_weight_t<P>, 1> input_layernorm, post_attention_layernorm;
  std::optional<MlaAttention<P>> mla;
  std::optional<LlamaAttention<P>> mha;
  std::optional<DeepseekMoE<P>> moe;
  std::optional<SwiGluMlp<P>> dense;
};

template <KernelPolicy P>
class MoeDecoder {
 public:
  using Layer = DeepseekV2DecoderLayer<P>;
  using Config = DeepseekV2Config;

  // The weights are empty until loaded (load, or visit with a WeightLoader / WeightRandomInit).
  explicit MoeDecoder(const DeepseekV2Config& cfg) : cfg_(cfg) {
    check_config(cfg, "MoeDecoder");
    layers_.reserve(static_cast<std::size_t>(cfg.num_hidden_layers));
    for (std::int64_t i = 0; i < cfg.num_hidden_layers; ++i) layers_.emplace_back(cfg, i);
  }

  const DeepseekV2Config& config() const noexcept { return cfg_; }

  template <class V>
  void visit(V& v) {
    const std::int64_t D = cfg_.hidden_size, Vocab = cfg_.vocab_size;
    v.weight("model.embed_tokens.weight", embed_tokens_, {Vocab, D});
    v.layers("model.layers", layers_);
    v.weight("model.norm.weight", norm_, {D});
    if (!cfg_.tie_word_embeddings) v.weight("lm_head.weight", lm_head_, {Vocab, D});
  }

  // As DenseDecoder::load.
  void load(const io::Checkpoint& ckpt, const std::string& prefix = {}) { nn::load_weights(*this, ckpt, prefix); }

  // An empty cache for up to max_positions tokens: MLA's latent rows, one "key head" of
  // kv_lora_rank + qk_rope_head_dim values and no separate values, or LlamaAttention's keys and
  // values; f32 (the reference) or bf16 elements.
  KvCache make_cache(std::int64_t max_positions, DType dtype = DType::f32) const {
    if (cfg_.use_mla)
      return KvCache(cfg_.num_hidden_layers, max_positions, 1, cfg_.kv_lora_rank + cfg_.qk_rope_head_dim, 0, dtype);
    return KvCache(cfg_.num_hidden_layers, max_positions, cfg_.num_key_value_heads, cfg_.head_dim(), cfg_.head_dim(),
                   dtype);
  }

  // Rows of embed_tokens: ids (T) -> (T, D). Errors name an id outside [0, vocab_size).
  void embed(std::span<const std::int32_t> ids, View<float, 2> out) const {
    nn::embedding(embed_tokens_.view(), ids, out, "MoeDecoder::embed");
  }
  Tensor<float, 2> embed(std::span<const std::int32_t> ids) const {
    Tensor<float, 2> out({static_cast<std::int64_t>(ids.size()), cfg_.hidden_size});
    embed(ids, out.view());
    return out;
  }

  // As DenseDecoder::forward. `form` chooses how MLA reads its cache (both are exact; automatic
  // takes the cheaper). `tracer`: see the top of this file.
  template <class Tracer = NoTrace>
  void forward(View<const float, 2> embeddings, KvCache& cache, View<float, 2> logits,
               ThreadPool& pool = ThreadPool::global(), MlaForm form = MlaForm::automatic,
               Tracer&& tracer = {}) const {
    constexpr const char* where = "MoeDecoder::forward";
    const std::int64_t T = embeddings.shape(0), D = cfg_.hidden_size, past = cache.size();
    DSVL_CHECK(embeddings.shape(1) == D && embeddings.inner_contiguous(), where, "embeddings have ",
               embeddings.shape(1), " columns, hidden_size is ", D);
    const KvCache expected = make_cache(0);
    DSVL_CHECK(cache.layers() == cfg_.num_hidden_layers && cache.kv_heads() == expected.kv_heads() &&
                   cache.key_dim() == expected.key_dim() && cache.value_dim() == expected.value_dim(),
               where, "the cache was not made for this decoder (make_cache)");
    DSVL_CHECK(T <= cache.remaining(), where, "the cache holds ", past, " of ", cache.capacity(),
               " tokens, no room for ", T, " more");
    const std::int64_t rows = logits.shape(0);
    DSVL_CHECK(logits.shape(1) == cfg_.vocab_size && (rows == T || (rows == 1 && T >= 1)) && logits.inner_contiguous(),
               where, "logits are (", rows, ", ", logits.shape(1), "), expected (", T, " or 1, ", cfg_.vocab_size, ")");
    if (T == 0) return;
    const typename P::kernel_tag tag{};

    const std::int64_t rotary = cfg_.use_mla ? cfg_.qk_rope_head_dim : cfg_.head_dim();
    std::vector<std::int32_t> positions(static_cast<std::size_t>(T));
    for (std::int64_t t = 0; t < T; ++t) positions[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(past + t);
    Tensor<float, 2> cos({T, rotary / 2}), sin({T, rotary / 2});
    kernels::rope_cos_sin(View<const std::int32_t, 1>(positions.data(), {T}), static_cast<float>(cfg_.rope_theta),
                          rotary, cos.view(), sin.view());

    Tensor<float, 2> x({T, D});  // the residual stream
    for (std::int64_t t = 0; t < T; ++t)
      std::copy_n(embeddings.data() + t * embeddings.stride(0), D, x.data() + t * D);
    for (std::int64_t l = 0; l < cfg_.num_hidden_layers; ++l) {
      const Layer& layer = layers_[static_cast<std::size_t>(l)];
      ExpertChoice choice;
      cache.with_layer(l, [&](auto keys, auto values) {
        layer.forward(x.view(), keys, values, past, std::as_const(cos).view(), std::as_const(sin).view(), pool, form,
                      trace_wants<Tracer, const ExpertChoice&> && layer.moe ? &choice : nullptr);
      });
      trace(tracer, "layer", l, std::as_const(x).view());
      if (layer.moe) trace(tracer, "routing", l, std::as_const(choice));
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
                           ThreadPool& pool = ThreadPool::global(), MlaForm form = MlaForm::automatic,
                           Tracer&& tracer = {}) const {
    const std::int64_t T = embeddings.shape(0);
    Tensor<float, 2> logits({which == LogitRows::last && T > 0 ? 1 : T, cfg_.vocab_size});
    forward(embeddings, cache, logits.view(), pool, form, tracer);
    return logits;
  }

  // embed + forward.
  template <class Tracer = NoTrace>
  Tensor<float, 2> forward_ids(std::span<const std::int32_t> ids, KvCache& cache, LogitRows which = LogitRows::all,
                               ThreadPool& pool = ThreadPool::global(), MlaForm form = MlaForm::automatic,
                               Tracer&& tracer = {}) const {
    const Tensor<float, 2> x = embed(ids);
    return forward(x.view(), cache, which, pool, form, tracer);
  }

  View<const dense_weight_t<P>, 2> embed_tokens() const noexcept { return embed_tokens_.view(); }
  const std::vector<Layer>& layers() const noexcept { return layers_; }

 private:
  DeepseekV2Config cfg_;
  nn::Weight<dense_weight_t<P>, 2> embed_tokens_;
  std::vector<Layer> layers_;
  nn::Weight<dense_weight_t<P>, 1> norm_;
  nn::Weight<head_weight_t<P>, 2> lm_head_;  // unused when tie_word_embeddings
};

}  // namespace dsvl::language
