#pragma once
// Reading the fields of a parsed JSON document (nlohmann::json) without silent narrowing, with
// errors that name the file and the field: json_find, json_get, json_get_or (io/json.hpp parses).
//
// Fields are addressed by '/'-separated paths: "vision_config/params/width", "layers/0/dim"
// (a number addresses an array element). Keys that themselves contain '/' cannot be addressed.
//
// This header needs only nlohmann's declarations (<nlohmann/json_fwd.hpp>): the functions are
// templates on the document type J, always nlohmann::json, and so are compiled only where they are
// called, with a document, that is, where <nlohmann/json.hpp> (io/json.hpp) is included. A
// header that reads fields of a document its caller parsed (a config's parse_* function, itself
// a template on J) then costs nothing of the JSON library.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "dsvl/core/error.hpp"

namespace dsvl::io {

// The document type of the functions below: nlohmann::json.
template <class J>
concept JsonValue = std::same_as<J, nlohmann::json>;

namespace detail {

template <JsonValue J>
const char* json_kind(const J& j) noexcept {
  if (j.is_number_integer()) return "an integer";
  if (j.is_number_float()) return "a non-integer number";
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "a boolean";
  if (j.is_null()) return "null";
  if (j.is_array()) return "an array";
  if (j.is_object()) return "an object";
  return "an unknown JSON value";
}

template <class T> struct is_vector : std::false_type {};
template <class T> struct is_vector<std::vector<T>> : std::true_type {};
template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};

template <class T, JsonValue J>
T json_as(const J& j, const std::string& path, const std::string& where) {
  const auto wrong = [&](const char* expected) {
    fail(where, "field '", path, "' is ", json_kind(j), ", expected ", expected);
  };
  if constexpr (std::is_same_v<T, J>) {
    return j;
  } else if constexpr (is_optional<T>::value) {
    if (j.is_null()) return std::nullopt;
    return json_as<typename T::value_type>(j, path, where);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) wrong("a boolean");
    return j.template get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!j.is_number_integer()) wrong("an integer");
    if (j.is_number_unsigned()) {
      const auto v = j.template get<std::uint64_t>();
      if (!std::in_range<T>(v)) fail(where, "field '", path, "' = ", v, " is out of range");
      return static_cast<T>(v);
    }
    const auto v = j.template get<std::int64_t>();
    if (!std::in_range<T>(v)) fail(where, "field '", path, "' = ", v, " is out of range");
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) wrong("a number");
    return j.template get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) wrong("a string");
    return j.template get<std::string>();
  } else if constexpr (is_vector<T>::value) {
    if (!j.is_array()) wrong("an array");
    T out;
    out.reserve(j.size());
    for (std::size_t i = 0; i < j.size(); ++i)
      out.push_back(json_as<typename T::value_type>(j[i], path + "/" + std::to_string(i), where));
    return out;
  } else {
    static_assert(is_vector<T>::value,
                  "dsvl::io::json_get<T>: T must be bool, an integer, a floating-point type, std::string, "
                  "nlohmann::json, or std::vector / std::optional of those");
  }
}

}  // namespace detail

// The value at `path`, or nullptr if a component is missing or traverses a scalar.
template <JsonValue J>
const J* json_find(const J& j, std::string_view path) {
  const J* node = &j;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const std::size_t end = std::min(path.find('/', pos), path.size());
    const std::string_view part = path.substr(pos, end - pos);
    if (node->is_object()) {
      const auto it = node->find(part);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array()) {
      std::size_t i = 0;
      if (part.empty() || part.size() > 18) return nullptr;
      for (char c : part) {
        if (c < '0' || c > '9') return nullptr;
        i = i * 10 + static_cast<std::size_t>(c - '0');
      }
      if (i >= node->size()) return nullptr;
      node = &(*node)[i];
    } else {
      return nullptr;
    }
    pos = end + 1;
  }
  return node;
}

// The required field at `path`, converted to T without silent narrowing: an integer field must be
// a JSON integer in T's range, a floating field any JSON number, std::optional<U> also accepts
// null. Errors (prefixed by `where`): "missing field 'a/b'", "field 'a/b' is a string, expected an
// integer", "field 'a/b' = 300 is out of range".
template <class T, JsonValue J>
T json_get(const J& j, std::string_view path, const std::string& where) {
  const J* node = json_find(j, path);
  if (node == nullptr) fail(where, "missing field '", path, "'");
  return detail::json_as<T>(*node, std::string(path), where);
}

// As json_get, but a missing field gives `fallback` (a present field of the wrong type is still
// an error). HF configs omit fields that take the class default.
template <class T, JsonValue J>
T json_get_or(const J& j, std::string_view path, T fallback, const std::string& where) {
  const J* node = json_find(j, path);
  if (node == nullptr) return fallback;
  return detail::json_as<T>(*node, std::string(path), where);
}

}  // namespace dsvl::io
