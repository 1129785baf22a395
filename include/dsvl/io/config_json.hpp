#pragma once
// Reading and writing the fields of a config (core/config.hpp) as a JSON object, from the one
// declaration in its visit:
//
//   io::json_get_fields(j, "language_config", c, where)  reads the object at that path ("" for j
//       itself): an absent key takes the field's fallback (config::required: "missing field
//       'language_config/hidden_size'"), a nullable key's null reads as 0, a choice must be one of
//       its names ("field 'language_config/topk_method' is \"random\", dsvl supports \"greedy\",
//       ..."), a value outside its field's range is refused ("field 'language_config/num_hidden_layers'
//       is 1000000000, dsvl accepts 0 to 1024"), a child is read from the object under its key;
//       fields declared fixed keep the value c holds. Values convert as io::json_get does (no silent narrowing); lists must have the
//       length of a std::array ("field 'params/pixel_std' has 2 values, expected 3") or fit an
//       InlineList. Errors are prefixed by `where` (the file, and the part of it).
//   io::json_set_fields(out, c)  writes every field but the fixed ones into the object `out`
//       (a nullable 0 as null, a choice by its name, a child as an object under its key).
//
// Like io/json_get.hpp, this header needs only nlohmann's declarations: the functions are templates
// on the document type, compiled where a document is, that is, where <nlohmann/json.hpp> is included.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/inline_list.hpp"
#include "dsvl/io/json_get.hpp"

namespace dsvl::io {

namespace detail {

template <class T> struct is_std_array : std::false_type {};
template <class T, std::size_t N> struct is_std_array<std::array<T, N>> : std::true_type {};
template <class T> struct is_inline_list : std::false_type {};
template <class T, std::size_t N> struct is_inline_list<InlineList<T, N>> : std::true_type {};

// One field's value: json_as, and for std::array / InlineList a list of fitting length.
template <class T, JsonValue J>
T config_value(const J& node, const std::string& path, const std::string& where) {
  if constexpr (is_std_array<T>::value) {
    const auto v = json_as<std::vector<typename T::value_type>>(node, path, where);
    T out{};
    if (v.size() != out.size()) fail(where, "field '", path, "' has ", v.size(), " values, expected ", out.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = v[i];
    return out;
  } else if constexpr (is_inline_list<T>::value) {
    using E = std::remove_cvref_t<decltype(*std::declval<const T&>().begin())>;
    const auto v = json_as<std::vector<E>>(node, path, where);
    if (v.size() > T::capacity())
      fail(where, "field '", path, "' has ", v.size(), " entries, at most ", T::capacity(), " are supported");
    T out;
    out.assign(v.begin(), v.end());
    return out;
  } else {
    return json_as<T>(node, path, where);
  }
}

template <class T, JsonValue J>
J config_json(const T& value) {
  if constexpr (is_std_array<T>::value || is_inline_list<T>::value) {
    J out = J::array();
    for (const auto& e : value) out.push_back(e);
    return out;
  } else {
    return J(value);
  }
}

template <JsonValue J>
class ConfigReader {
 public:
  ConfigReader(const J& j, std::string prefix, const std::string& where)
      : j_(j), prefix_(std::move(prefix)), where_(where) {}

  template <class T, class F, class... R>
  void field(const char* key, T& value, const F& fallback, const config::Range<R>&... range) {
    const std::string path = prefix_ + key;
    const J* node = json_find(j_, path);
    if (node == nullptr) {
      if constexpr (std::is_same_v<F, config::Required>) fail(where_, "missing field '", path, "'");
      else value = static_cast<T>(fallback);
      return;
    }
    value = config_value<T>(*node, path, where_);
    (check_range(path, value, range), ...);
  }
  template <class T, class F, class... R>
  void nullable(const char* key, T& value, const F& fallback, const config::Range<R>&... range) {
    const J* node = json_find(j_, prefix_ + key);
    if (node != nullptr && node->is_null()) value = T{};
    else field(key, value, fallback, range...);
  }
  template <class E, class F, std::size_t N>
  void choice(const char* key, E& value, const F& fallback, const char* const (&names)[N]) {
    const std::string path = prefix_ + key;
    const J* node = json_find(j_, path);
    if (node == nullptr) {
      if constexpr (std::is_same_v<F, config::Required>) fail(where_, "missing field '", path, "'");
      else value = fallback;
      return;
    }
    const auto name = json_as<std::string>(*node, path, where_);
    for (std::size_t i = 0; i < N; ++i)
      if (name == names[i]) {
        value = static_cast<E>(i);
        return;
      }
    std::string known;
    for (std::size_t i = 0; i < N; ++i) known += std::string(i ? ", " : "") + '"' + names[i] + '"';
    fail(where_, "field '", path, "' is \"", name, "\", dsvl supports ", known);
  }
  template <class T>
  void fixed(const char*, T&) {}
  template <class C>
  void child(const char* key, C& c) {
    ConfigReader inner(j_, prefix_ + key + "/", where_);
    C::visit(c, inner);
  }

 private:
  template <class T, class R>
  void check_range(const std::string& path, const T& value, const config::Range<R>& r) const {
    if constexpr (is_std_array<T>::value || is_inline_list<T>::value) {
      for (const auto& e : value) check_range(path, e, r);
    } else {
      config::check_range(value, r, where_, path);
    }
  }

  const J& j_;
  std::string prefix_;
  const std::string& where_;
};

template <JsonValue J>
class ConfigWriter {
 public:
  explicit ConfigWriter(J& out) : out_(out) {}

  template <class T, class F, class... R>
  void field(const char* key, const T& value, const F&, const R&...) {
    out_[key] = config_json<T, J>(value);
  }
  template <class T, class F, class... R>
  void nullable(const char* key, const T& value, const F&, const R&...) {
    out_[key] = value == T{} ? J(nullptr) : config_json<T, J>(value);
  }
  template <class E, class F, std::size_t N>
  void choice(const char* key, const E& value, const F&, const char* const (&names)[N]) {
    out_[key] = config::detail::choice_name(value, names);
  }
  template <class T>
  void fixed(const char*, const T&) {}
  template <class C>
  void child(const char* key, const C& c) {
    ConfigWriter inner(out_[key]);
    C::visit(c, inner);
  }

 private:
  J& out_;
};

}  // namespace detail

// Reads the fields of `c` from the object at `path` of `j` ("" for j itself; "a/b" addresses as
// json_get does). See the top of this file.
template <config::Visitable C, JsonValue J>
void json_get_fields(const J& j, std::string_view path, C& c, const std::string& where) {
  detail::ConfigReader<J> reader(j, path.empty() ? std::string() : std::string(path) + "/", where);
  C::visit(c, reader);
}

// Writes the fields of `c` (all but the fixed ones) into the object `out`.
template <config::Visitable C, JsonValue J>
void json_set_fields(J& out, const C& c) {
  detail::ConfigWriter<J> writer(out);
  C::visit(c, writer);
}

}  // namespace dsvl::io
