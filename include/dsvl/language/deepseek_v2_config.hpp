#pragma once
// DeepseekV2Config: the DeepSeekMoE decoder configuration of DeepSeek-VL2 (the official
// DeepseekV2Config, model_type "deepseek_v2"), as config.json stores it under "language_config".
//
// Field names are the official keys. The fields are listed once, in DeepseekV2Config::visit,
// which parsing, writing, printing and comparison walk (core/config.hpp). A key that is absent takes the official class
// default (spec.md 5.1; VL2's configs leave many keys out). Keys that may be null (q_lora_rank,
// kv_lora_rank and the MLA head dims in VL2-Tiny's config, n_routed_experts when the model has no
// MoE) read as 0 when null.
//
// What dsvl's decoder does not implement is refused with the key's name: q_lora_rank set (the
// official default 1536 included, so a config must say null, as every VL2 config does),
// rope_scaling, attention_bias, hidden_act other than "silu", an unknown topk_method or
// scoring_func (the official default topk_method "gready" is a typo that selects no routing, so
// a MoE config must name its method), n_routed_experts not a multiple of n_group.
//
// The attention of a layer is MLA (use_mla, spec.md 5.4) or transformers' LlamaAttention
// (spec.md 5.3); its FFN is a dense SwiGLU MLP for the first first_k_dense_replace layers and
// every layer not a multiple of moe_layer_freq, a DeepSeekMoE block otherwise (spec.md 5.2).
// DeepseekV2Config is a structural type, so a preset can be a template argument.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/io/config_json.hpp"
#include "dsvl/io/json.hpp"

namespace dsvl::language {

// How MoEGate picks the experts of a token (spec.md 5.5).
enum class TopkMethod { greedy, group_limited_greedy, noaux_tc };
// How MoEGate turns router logits into scores.
enum class ScoringFunc { softmax, sigmoid };

// Their spellings in config.json, in enumerator order.
inline constexpr const char* kTopkMethodNames[] = {"greedy", "group_limited_greedy", "noaux_tc"};
inline constexpr const char* kScoringFuncNames[] = {"softmax", "sigmoid"};

inline constexpr const char* topk_method_name(TopkMethod m) noexcept { return kTopkMethodNames[static_cast<int>(m)]; }
inline constexpr const char* scoring_func_name(ScoringFunc f) noexcept {
  return kScoringFuncNames[static_cast<int>(f)];
}

struct DeepseekV2Config {
  std::int64_t hidden_size = 4096;             // D
  std::int64_t intermediate_size = 11008;      // dense MLP width
  std::int64_t moe_intermediate_size = 1407;   // width of one expert
  std::int64_t num_hidden_layers = 30;
  std::int64_t num_attention_heads = 32;       // H
  std::int64_t num_key_value_heads = 32;       // LlamaAttention only
  bool use_mla = true;
  std::int64_t q_lora_rank = 0;                // 0: q_proj directly (null in every VL2 config)
  std::int64_t kv_lora_rank = 512;             // MLA latent width
  std::int64_t qk_nope_head_dim = 128;
  std::int64_t qk_rope_head_dim = 64;
  std::int64_t v_head_dim = 128;
  std::int64_t n_routed_experts = 0;           // 0: no MoE layers
  std::int64_t n_shared_experts = 0;
  std::int64_t num_experts_per_tok = 0;        // top-k
  std::int64_t first_k_dense_replace = 0;
  std::int64_t moe_layer_freq = 1;
  TopkMethod topk_method = TopkMethod::greedy;
  std::int64_t n_group = 1;
  std::int64_t topk_group = 1;
  ScoringFunc scoring_func = ScoringFunc::softmax;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  std::int64_t vocab_size = 102400;
  std::int64_t max_position_embeddings = 2048;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;

  // LlamaAttention's head dim (hidden_size / num_attention_heads).
  constexpr std::int64_t head_dim() const noexcept {
    return num_attention_heads > 0 ? hidden_size / num_attention_heads : 0;
  }
  // MLA's query/key head dim: the part without position plus the rotary part.
  constexpr std::int64_t qk_head_dim() const noexcept { return qk_nope_head_dim + qk_rope_head_dim; }
  constexpr bool is_moe_layer(std::int64_t layer) const noexcept {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }

  // Every field once (core/config.hpp), with the official class defaults for absent keys; a
  // nullable key's null reads as 0.
  static constexpr const char* kName = "DeepseekV2Config";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.field("hidden_size", c.hidden_size, std::int64_t{4096}, config::kWidths);
    v.field("intermediate_size", c.intermediate_size, std::int64_t{11008}, config::kWidths);
    v.field("moe_intermediate_size", c.moe_intermediate_size, std::int64_t{1407}, config::kWidths);
    v.field("num_hidden_layers", c.num_hidden_layers, std::int64_t{30}, config::kLayers);
    v.field("num_attention_heads", c.num_attention_heads, std::int64_t{32}, config::kHeads);
    v.field("num_key_value_heads", c.num_key_value_heads, std::int64_t{32}, config::kHeads);
    v.field("use_mla", c.use_mla, true);
    v.nullable("q_lora_rank", c.q_lora_rank, std::int64_t{1536}, config::kWidths);
    v.nullable("kv_lora_rank", c.kv_lora_rank, std::int64_t{512}, config::kWidths);
    v.nullable("qk_nope_head_dim", c.qk_nope_head_dim, std::int64_t{128}, config::kWidths);
    v.nullable("qk_rope_head_dim", c.qk_rope_head_dim, std::int64_t{64}, config::kWidths);
    v.nullable("v_head_dim", c.v_head_dim, std::int64_t{128}, config::kWidths);
    v.nullable("n_routed_experts", c.n_routed_experts, std::int64_t{0}, config::kExperts);
    v.nullable("n_shared_experts", c.n_shared_experts, std::int64_t{0}, config::kExperts);
    v.nullable("num_experts_per_tok", c.num_experts_per_tok, std::int64_t{0}, config::kExperts);
    v.field("first_k_dense_replace", c.first_k_dense_replace, std::int64_t{0}, config::kLayers);
    v.field("moe_layer_freq", c.moe_layer_freq, std::int64_t{1}, config::kLayers);
    v.choice("topk_method", c.topk_method, TopkMethod::greedy, kTopkMethodNames);
    v.nullable("n_group", c.n_group, std::int64_t{1}, config::kExperts);
    v.nullable("topk_group", c.topk_group, std::int64_t{1}, config::kExperts);
    v.choice("scoring_func", c.scoring_func, ScoringFunc::softmax, kScoringFuncNames);
    v.field("norm_topk_prob", c.norm_topk_prob, false);
    v.field("routed_scaling_factor", c.routed_scaling_factor, 1.0);
    v.field("vocab_size", c.vocab_size, std::int64_t{102400}, config::kVocabulary);
    v.field("max_position_embeddings", c.max_position_embeddings, std::int64_t{2048}, config::kPositions);
    v.field("rope_theta", c.rope_theta, 10000.0);
    v.field("rms_norm_eps", c.rms_norm_eps, 1e-6);
    v.field("tie_word_embeddings", c.tie_word_embeddings, false);
  }

  bool operator==(const DeepseekV2Config&) const = default;
};

// DeepSeek-VL2's language models (spec.md 5.1; Base is the published config in the shared data).
inline constexpr DeepseekV2Config kDeepSeekVL2TinyLanguage{
    1280, 6848, 896, 12, 10, 10, false, 0, 0, 0, 0, 0, 64, 2, 6, 1, 1, TopkMethod::greedy, 1, 1,
    ScoringFunc::softmax, false, 1.0, 129280, 4096, 10000.0, 1e-6, false};
inline constexpr DeepseekV2Config kDeepSeekVL2SmallLanguage{
    2048, 10944, 1408, 27, 16, 16, true, 0, 512, 128, 64, 128, 64, 2, 6, 1, 1, TopkMethod::greedy, 1, 1,
    ScoringFunc::softmax, false, 1.0, 102400, 4096, 10000.0, 1e-6, false};
inline constexpr DeepseekV2Config kDeepSeekVL2BaseLanguage{
    2560, 12288, 1536, 30, 32, 32, true, 0, 512, 128, 64, 128, 72, 2, 6, 1, 1, TopkMethod::noaux_tc, 1, 1,
    ScoringFunc::sigmoid, true, 2.0, 129280, 4096, 10000.0, 1e-6, false};

using config::check_matches_preset;
using config::differences;
using config::to_string;

// "DeepseekV2Config{hidden_size=1280, ...}".
inline std::ostream& operator<<(std::ostream& os, const DeepseekV2Config& c) { return os << to_string(c); }

// Throws dsvl::Error naming `where` and the field when the sizes are inconsistent or ask for
// something dsvl's decoder does not implement.
inline void check_config(const DeepseekV2Config& c, const std::string& where) {
  const auto positive = [&](const char* key, std::int64_t v) {
    if (v <= 0) fail(where, "field '", key, "' = ", v, " must be positive");
  };
  positive("hidden_size", c.hidden_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("vocab_size", c.vocab_size);
  positive("max_position_embeddings", c.max_position_embeddings);
  if (c.first_k_dense_replace > 0 || c.n_routed_experts == 0) positive("intermediate_size", c.intermediate_size);
  if (c.q_lora_rank != 0)
    fail(where, "field 'q_lora_rank' = ", c.q_lora_rank,
         ": dsvl's DeepSeekMoE decoder supports only q_lora_rank null (as in every DeepSeek-VL2 model)");
  if (c.use_mla) {
    positive("kv_lora_rank", c.kv_lora_rank);
    positive("qk_nope_head_dim", c.qk_nope_head_dim);
    positive("qk_rope_head_dim", c.qk_rope_head_dim);
    positive("v_head_dim", c.v_head_dim);
    if (c.qk_rope_head_dim % 2 != 0) fail(where, "field 'qk_rope_head_dim' = ", c.qk_rope_head_dim, " must be even");
  } else {
    positive("num_key_value_heads", c.num_key_value_heads);
    if (c.hidden_size % c.num_attention_heads != 0)
      fail(where, "field 'hidden_size' = ", c.hidden_size, " is not a multiple of 'num_attention_heads' = ",
           c.num_attention_heads);
    if (c.num_attention_heads % c.num_key_value_heads != 0)
      fail(where, "field 'num_attention_heads' = ", c.num_attention_heads,
           " is not a multiple of 'num_key_value_heads' = ", c.num_key_value_heads);
    if (c.head_dim() % 2 != 0) fail(where, "head dim ", c.head_dim(), " must be even for RoPE");
  }
  if (c.n_routed_experts < 0) fail(where, "field 'n_routed_experts' = ", c.n_routed_experts, " is negative");
  if (c.n_routed_experts > 0) {
    positive("moe_intermediate_size", c.moe_intermediate_size);
    positive("num_experts_per_tok", c.num_experts_per_tok);
    positive("moe_layer_freq", c.moe_layer_freq);
    positive("n_group", c.n_group);
    positive("topk_group", c.topk_group);
    if (c.n_shared_experts < 0) fail(where, "field 'n_shared_experts' = ", c.n_shared_experts, " is negative");
    if (c.num_experts_per_tok > c.n_routed_experts)
      fail(where, "field 'num_experts_per_tok' = ", c.num_experts_per_tok, " exceeds 'n_routed_experts' = ",
           c.n_routed_experts);
    if (c.n_routed_experts % c.n_group != 0)
      fail(where, "field 'n_routed_experts' = ", c.n_routed_experts, " is not a multiple of 'n_group' = ", c.n_group);
    if (c.topk_group > c.n_group)
      fail(where, "field 'topk_group' = ", c.topk_group, " exceeds 'n_group' = ", c.n_group);
    if (c.topk_method == TopkMethod::noaux_tc && c.n_routed_experts / c.n_group < 2)
      fail(where, "topk_method \"noaux_tc\" scores a group by its top 2 experts; 'n_routed_experts' / 'n_group' = ",
           c.n_routed_experts / c.n_group);
  }
  if (!(c.rms_norm_eps > 0)) fail(where, "field 'rms_norm_eps' = ", c.rms_norm_eps, " must be positive");
  if (!(c.rope_theta > 0)) fail(where, "field 'rope_theta' = ", c.rope_theta, " must be positive");
}

// Parses the DeepseekV2Config fields of a JSON object: a DeepSeek-VL2 config.json with
// prefix = "language_config/", or a plain deepseek_v2 config.json. Errors name `where` and the
// key path.
inline DeepseekV2Config parse_deepseek_v2_config(const nlohmann::json& j, const std::string& where,
                                                 const std::string& prefix = {}) {
  DeepseekV2Config c;
  io::json_get_fields(j, prefix.empty() ? std::string_view() : std::string_view(prefix).substr(0, prefix.size() - 1), c,
                      where);
  const auto key = [&](const char* k) { return prefix + k; };
  if (c.n_routed_experts > 0 && io::json_find(j, key("topk_method")) == nullptr)
    fail(where, "missing field '", key("topk_method"),
         "' (the official default \"gready\" selects no experts; a MoE config names its method)");
  const auto act = io::json_get_or<std::string>(j, key("hidden_act"), "silu", where);
  if (act != "silu")
    fail(where, "field '", key("hidden_act"), "' is \"", act, "\", dsvl's DeepSeekMoE decoder supports only \"silu\"");
  if (io::json_get_or<bool>(j, key("attention_bias"), false, where))
    fail(where, "field '", key("attention_bias"), "' is true; dsvl's DeepSeekMoE decoder has no attention biases");
  if (const auto* s = io::json_find(j, key("rope_scaling")); s != nullptr && !s->is_null())
    fail(where, "field '", key("rope_scaling"),
         "' is set; dsvl's DeepSeekMoE decoder supports only plain RoPE (no DeepSeek-VL2 model scales it)");
  check_config(c, where + (prefix.empty() ? "" : " (" + prefix.substr(0, prefix.size() - 1) + ")"));
  return c;
}

}  // namespace dsvl::language
