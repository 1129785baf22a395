#pragma once
// LlamaConfig: the decoder configuration of a LLaMA-architecture language model (transformers
// LlamaConfig), as DeepSeek-VL v1 stores it under "language_config" in its config.json.
//
// Field names are Hugging Face's keys. The fields are listed once, in LlamaConfig::visit, which
// parsing, writing, printing and comparison walk (core/config.hpp). Absent keys take transformers'
// LlamaConfig defaults, as the official code reads them: hidden_size = 4096, intermediate_size =
// 11008, num_hidden_layers = 32, num_attention_heads = 32, num_key_value_heads =
// num_attention_heads, rms_norm_eps = 1e-6, rope_theta = 10000 (also read from
// rope_parameters/rope_theta, where transformers 5 writes it), vocab_size = 32000,
// max_position_embeddings = 2048, tie_word_embeddings = false (Janus-Pro-7B's language_config leaves
// the first four to these defaults).
// What dsvl's dense decoder does not implement is refused with the key's name: hidden_act other
// than "silu", rope_scaling or a rope_type other than "default", attention_bias or mlp_bias true,
// a head_dim other than hidden_size / num_attention_heads.
//
// LlamaConfig is a structural type (public members of scalar types only), so a preset can be a
// template argument.

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/io/config_json.hpp"
#include "dsvl/io/json.hpp"

namespace dsvl::language {

struct LlamaConfig {
  std::int64_t hidden_size = 0;                // D
  std::int64_t intermediate_size = 0;          // MLP width
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;        // H
  std::int64_t num_key_value_heads = 0;        // Hkv (GQA when < H)
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::int64_t vocab_size = 0;                 // V
  std::int64_t max_position_embeddings = 2048;
  bool tie_word_embeddings = false;

  // Dh = D / H; RoPE rotates all of it.
  constexpr std::int64_t head_dim() const noexcept {
    return num_attention_heads > 0 ? hidden_size / num_attention_heads : 0;
  }

  // Every field once (core/config.hpp), with transformers' defaults for absent keys (evaluated in
  // order, so num_key_value_heads defaults to the num_attention_heads just read).
  static constexpr const char* kName = "LlamaConfig";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.field("hidden_size", c.hidden_size, std::int64_t{4096}, config::kWidths);
    v.field("intermediate_size", c.intermediate_size, std::int64_t{11008}, config::kWidths);
    v.field("num_hidden_layers", c.num_hidden_layers, std::int64_t{32}, config::kLayers);
    v.field("num_attention_heads", c.num_attention_heads, std::int64_t{32}, config::kHeads);
    v.field("num_key_value_heads", c.num_key_value_heads, c.num_attention_heads, config::kHeads);
    v.field("rms_norm_eps", c.rms_norm_eps, 1e-6);
    v.field("rope_theta", c.rope_theta, 10000.0);
    v.field("vocab_size", c.vocab_size, std::int64_t{32000}, config::kVocabulary);
    v.field("max_position_embeddings", c.max_position_embeddings, std::int64_t{2048}, config::kPositions);
    v.field("tie_word_embeddings", c.tie_word_embeddings, false);
  }

  bool operator==(const LlamaConfig&) const = default;
};

// DeepSeek-VL v1's language models (spec.md 1.5: deepseek-vl-1.3b-*, deepseek-vl-7b-*).
inline constexpr LlamaConfig kDeepSeekVL1_3BLanguage{2048, 5632, 24, 16, 16, 1e-6, 10000.0, 102400, 16384, false};
inline constexpr LlamaConfig kDeepSeekVL7BLanguage{4096, 11008, 30, 32, 32, 1e-6, 10000.0, 102400, 16384, false};

using config::check_matches_preset;
using config::differences;
using config::to_string;

// "LlamaConfig{hidden_size=2048, intermediate_size=5632, ...}".
inline std::ostream& operator<<(std::ostream& os, const LlamaConfig& c) { return os << to_string(c); }

// Throws dsvl::Error naming `where` and the field when sizes are inconsistent.
inline void check_config(const LlamaConfig& c, const std::string& where) {
  const auto positive = [&](const char* key, std::int64_t v) {
    if (v <= 0) fail(where, "field '", key, "' = ", v, " must be positive");
  };
  positive("hidden_size", c.hidden_size);
  positive("intermediate_size", c.intermediate_size);
  positive("num_hidden_layers", c.num_hidden_layers);
  positive("num_attention_heads", c.num_attention_heads);
  positive("num_key_value_heads", c.num_key_value_heads);
  positive("vocab_size", c.vocab_size);
  positive("max_position_embeddings", c.max_position_embeddings);
  if (c.hidden_size % c.num_attention_heads != 0)
    fail(where, "field 'hidden_size' = ", c.hidden_size, " is not a multiple of 'num_attention_heads' = ",
         c.num_attention_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail(where, "field 'num_attention_heads' = ", c.num_attention_heads,
         " is not a multiple of 'num_key_value_heads' = ", c.num_key_value_heads);
  if (c.head_dim() % 2 != 0) fail(where, "head dim ", c.head_dim(), " (hidden_size / num_attention_heads) must be even for RoPE");
  if (!(c.rms_norm_eps > 0)) fail(where, "field 'rms_norm_eps' = ", c.rms_norm_eps, " must be positive");
  if (!(c.rope_theta > 0)) fail(where, "field 'rope_theta' = ", c.rope_theta, " must be positive");
}

// Parses the LLaMA fields of a JSON object: a plain LLaMA config.json, or (with
// prefix = "language_config/") a DeepSeek-VL v1 config.json. Errors name `where` and the key
// path: "field 'language_config/hidden_size' is a string", "field 'language_config/hidden_act' is
// \"gelu\", dsvl's LLaMA decoder supports only \"silu\"".
inline LlamaConfig parse_llama_config(const nlohmann::json& j, const std::string& where,
                                      const std::string& prefix = {}) {
  LlamaConfig c;
  io::json_get_fields(j, prefix.empty() ? std::string_view() : std::string_view(prefix).substr(0, prefix.size() - 1), c,
                      where);

  const auto key = [&](const char* k) { return prefix + k; };
  const auto act = io::json_get_or<std::string>(j, key("hidden_act"), "silu", where);
  if (act != "silu")
    fail(where, "field '", key("hidden_act"), "' is \"", act, "\", dsvl's LLaMA decoder supports only \"silu\"");
  for (const char* flag : {"attention_bias", "mlp_bias"})
    if (io::json_get_or<bool>(j, key(flag), false, where))
      fail(where, "field '", key(flag), "' is true; dsvl's LLaMA decoder has no biases");
  if (const auto* s = io::json_find(j, key("rope_scaling")); s != nullptr && !s->is_null())
    fail(where, "field '", key("rope_scaling"), "' is set; dsvl's LLaMA decoder supports only plain RoPE");
  if (const auto* rp = io::json_find(j, key("rope_parameters")); rp != nullptr && !rp->is_null()) {
    const auto type = io::json_get_or<std::string>(j, key("rope_parameters/rope_type"), "default", where);
    if (type != "default")
      fail(where, "field '", key("rope_parameters/rope_type"), "' is \"", type,
           "\"; dsvl's LLaMA decoder supports only \"default\"");
    if (io::json_find(j, key("rope_theta")) == nullptr)
      c.rope_theta = io::json_get_or<double>(j, key("rope_parameters/rope_theta"), 10000.0, where);
  }
  if (const auto* hd = io::json_find(j, key("head_dim")); hd != nullptr && !hd->is_null()) {
    const auto head_dim = io::json_get<std::int64_t>(j, key("head_dim"), where);
    if (c.num_attention_heads > 0 && head_dim != c.head_dim())
      fail(where, "field '", key("head_dim"), "' = ", head_dim, " differs from hidden_size / num_attention_heads = ",
           c.head_dim(), ", which dsvl's LLaMA decoder requires");
  }
  check_config(c, where + (prefix.empty() ? "" : " (" + prefix.substr(0, prefix.size() - 1) + ")"));
  return c;
}

// Reads a config.json: the LLaMA fields of its "language_config" object when it has one
// (DeepSeek-VL v1), otherwise of the top level.
inline LlamaConfig read_llama_config(const std::filesystem::path& file) {
  const nlohmann::json j = io::read_json(file);
  const bool nested = j.is_object() && j.contains("language_config");
  return parse_llama_config(j, file.string(), nested ? "language_config/" : "");
}

}  // namespace dsvl::language
