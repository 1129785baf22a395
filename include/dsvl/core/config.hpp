#pragma once
// One declaration of a config's fields, which every use walks: reading config.json and writing it
// (io/config_json.hpp), printing, listing differences, checking a run-time config against a
// compile-time preset.
//
// A config is an aggregate whose members are named by its config.json keys, with a name and one
// `visit` that serves const and non-const configs:
//
//   static constexpr const char* kName = "VitConfig";
//   template <class Self, class V>
//   static constexpr void visit(Self& c, V& v) {
//     v.field("image_size", c.image_size, 384);                // absent: 384
//     v.field("hidden_size", c.hidden_size, config::required); // absent: an error
//     v.nullable("q_lora_rank", c.q_lora_rank, 1536);          // absent: 1536; null: 0
//     v.choice("topk_method", c.topk_method, TopkMethod::greedy, kTopkMethodNames);
//     v.child("language_config", c.language);                  // a nested config, under its key
//     v.fixed("layer_norm_eps", c.layer_norm_eps);             // not a key of this JSON object
//   }
//
// Each call is one field, in declaration order:
//   field(key, member, fallback[, range])
//                                    a key; the fallback is what an absent key means (the official
//                                    class default; config::required makes absence an error). It is
//                                    evaluated where visit reaches it, so it may name a member read
//                                    before (LlamaConfig's num_key_value_heads). A range (below)
//                                    bounds the value read from a file, each element of a list.
//   nullable(key, member, fallback[, range])  as field, and null reads as 0 (T{}), written as null
//   choice(key, member, fallback, names)  an enum, spelled names[enumerator] in the JSON and in text
//   child(key, member)               a config with its own visit, the object under key
//   fixed(key, member)               a value with no key in this JSON object: one the official code
//                                    fixes, or one the enclosing reader sets (VitConfig's select_layer
//                                    comes from DeepSeek-VL's tower params). Printed and compared, never
//                                    read or written.
// Members are integers, floating-point numbers, bool, std::string, std::array or InlineList of those.
//
// Here, without the JSON library: to_string(c) "VitConfig{image_size=384, ...}" (a child as
// key=Name{...}), differences(a, b) {"path.key: a vs b", ...} with the path of nested keys joined
// by '.', and check_matches_preset(config, preset, where). Each config's namespace brings them in
// with `using`, so vision::to_string, language::differences and models::differences name them.
// Equality stays the struct's defaulted operator==.

#include <array>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"

namespace dsvl::config {

// The fallback of a key that must be present.
struct Required {};
inline constexpr Required required{};

// The values a size read from a file may take. A file's sizes decide what is allocated and how
// long loops run before its checkpoint is checked against them, so each is bounded where it is
// read (io/config_json.hpp), with the field and the bound in the error.
template <class T>
struct Range {
  T lo, hi;
};

// The bounds: far above every released model (the largest, DeepSeek-VL-7B and the
// DeepSeek-VL2 family: width 4096, FFN 11008, 30 layers, 72 experts, vocabulary 129280, context
// 16384, 1024-pixel SAM images), small enough that no config within them exhausts memory or time
// before its checkpoint is checked.
inline constexpr Range<std::int64_t> kWidths{0, 1 << 17};       // hidden, FFN, latent, head widths; channels
inline constexpr Range<std::int64_t> kLayers{0, 1024};          // layers, depths, layer indices
inline constexpr Range<std::int64_t> kHeads{0, 1024};
inline constexpr Range<std::int64_t> kExperts{0, 4096};         // experts, groups, experts per token
inline constexpr Range<std::int64_t> kVocabulary{0, 1 << 22};
inline constexpr Range<std::int64_t> kPositions{0, 1 << 18};
inline constexpr Range<std::int64_t> kPixels{0, 1 << 14};       // image and patch sides
inline constexpr Range<std::int64_t> kRatios{0, 64};            // MLP and downsampling factors
inline constexpr Range<double> kMlpRatios{0.0, 64.0};

// Refuses a value read from a file outside `r`: "<where>: field '<field>' is 5000, dsvl accepts 0 to 1024".
template <class T, class R>
void check_range(const T& value, const Range<R>& r, const std::string& where, std::string_view field) {
  if (value < r.lo || value > r.hi) fail(where, "field '", field, "' is ", value, ", dsvl accepts ", r.lo, " to ", r.hi);
}

namespace detail {

template <class T>
concept FieldList = requires(const T& t) {
  t.begin();
  t.end();
  t.size();
} && !std::same_as<T, std::string>;

// A value as text: true/false, integers in decimal, floating-point numbers in their shortest
// round-trip form (1e-06, 3.7362, 4), lists as [a, b].
template <class T>
std::string format_value(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    char buf[64];
    return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return v;
  } else if constexpr (FieldList<T>) {
    std::string s = "[";
    bool first = true;
    for (const auto& e : v) {
      s += (first ? "" : ", ") + format_value(e);
      first = false;
    }
    return s + "]";
  } else {
    static_assert(std::is_same_v<T, bool>, "dsvl::config: a field must be bool, a number, std::string or a list");
  }
}

template <class E, std::size_t N>
const char* choice_name(E value, const char* const (&names)[N]) noexcept {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : "(invalid)";
}

// Every leaf field as (path, value as text), children flattened with "key." prefixes.
struct FlatFields {
  std::string prefix;
  std::vector<std::pair<std::string, std::string>> fields;

  template <class T, class F, class... R>
  void field(const char* key, const T& value, const F&, const R&...) {
    fields.emplace_back(prefix + key, format_value(value));
  }
  template <class T, class F, class... R>
  void nullable(const char* key, const T& value, const F&, const R&...) {
    fields.emplace_back(prefix + key, format_value(value));
  }
  template <class E, class F, std::size_t N>
  void choice(const char* key, const E& value, const F&, const char* const (&names)[N]) {
    fields.emplace_back(prefix + key, choice_name(value, names));
  }
  template <class T>
  void fixed(const char* key, const T& value) {
    fields.emplace_back(prefix + key, format_value(value));
  }
  template <class C>
  void child(const char* key, const C& c) {
    const std::string outer = prefix;
    prefix += std::string(key) + ".";
    C::visit(c, *this);
    prefix = outer;
  }
};

}  // namespace detail

// A config as this header describes it: kName and a visit that walks its fields.
template <class C>
concept Visitable = requires(const C& c, detail::FlatFields& v) {
  { C::kName } -> std::convertible_to<std::string_view>;
  C::visit(c, v);
};

namespace detail {

// "key=value, ..." at one level, a child as key=Name{...}.
struct FieldPrinter {
  std::string text;

  void add(const char* key, const std::string& value) {
    text += (text.empty() ? "" : ", ") + std::string(key) + "=" + value;
  }
  template <class T, class F, class... R>
  void field(const char* key, const T& value, const F&, const R&...) {
    add(key, format_value(value));
  }
  template <class T, class F, class... R>
  void nullable(const char* key, const T& value, const F&, const R&...) {
    add(key, format_value(value));
  }
  template <class E, class F, std::size_t N>
  void choice(const char* key, const E& value, const F&, const char* const (&names)[N]) {
    add(key, choice_name(value, names));
  }
  template <class T>
  void fixed(const char* key, const T& value) {
    add(key, format_value(value));
  }
  template <Visitable C>
  void child(const char* key, const C& c) {
    FieldPrinter inner;
    C::visit(c, inner);
    add(key, std::string(C::kName) + "{" + inner.text + "}");
  }
};

}  // namespace detail

// "VitConfig{image_size=384, patch_size=16, ...}", for messages and logs.
template <Visitable C>
std::string to_string(const C& c) {
  detail::FieldPrinter p;
  C::visit(c, p);
  return std::string(C::kName) + "{" + p.text + "}";
}

// Every leaf field as (path, value as text), in declaration order; nested keys joined by '.'.
template <Visitable C>
std::vector<std::pair<std::string, std::string>> fields(const C& c) {
  detail::FlatFields f;
  C::visit(c, f);
  return std::move(f.fields);
}

// The fields in which a and b differ, as "path.key: a vs b", in declaration order (empty when
// a == b).
template <Visitable C>
std::vector<std::string> differences(const C& a, const C& b) {
  const auto fa = fields(a), fb = fields(b);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < fa.size() && i < fb.size(); ++i)
    if (fa[i].second != fb[i].second) out.push_back(fa[i].first + ": " + fa[i].second + " vs " + fb[i].second);
  return out;
}

// A config read at run time against a block's compile-time preset: throws dsvl::Error naming
// `where` and every field that differs, "field 'width' is 40 but the compile-time VitConfig fixes
// it to 36".
template <Visitable C>
void check_matches_preset(const C& config, const C& preset, const std::string& where) {
  const auto got = fields(config), want = fields(preset);
  std::string msg;
  for (std::size_t i = 0; i < got.size() && i < want.size(); ++i)
    if (got[i].second != want[i].second)
      msg += (msg.empty() ? "" : "; ") + ("field '" + got[i].first + "' is " + got[i].second + " but the compile-time " +
                                          std::string(C::kName) + " fixes it to " + want[i].second);
  if (!msg.empty()) fail(where, msg);
}

}  // namespace dsvl::config
