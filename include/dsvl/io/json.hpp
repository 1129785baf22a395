#pragma once
// JSON reading for configs, checkpoint indexes and safetensors headers: a thin layer over
// nlohmann::json whose errors are dsvl::Error naming the file and the position or field.
//
// Parsing is strict about one thing nlohmann accepts silently: a key repeated inside one object
// (nlohmann keeps the last) is an error, reported with the key and the path of its object.
//
// Fields are addressed by '/'-separated paths: "vision_config/params/width", "layers/0/dim"
// (a number addresses an array element). Keys that themselves contain '/' cannot be addressed.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/error.hpp"

namespace dsvl::io {

namespace detail {

// A SAX pass over valid JSON that fails on a key repeated within one object (nlohmann's DOM parser
// keeps the last silently). Each object's keys are kept until its end.
class DuplicateKeyCheck {
 public:
  using json = nlohmann::json;
  explicit DuplicateKeyCheck(const std::string& where) : where_(where) {}

  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) { return push(true); }
  bool start_array(std::size_t) { return push(false); }
  bool end_array() { return pop(); }
  bool key(json::string_t& k) {
    frames_.back().keys.push_back(k);
    return true;
  }
  bool end_object() {
    auto& keys = frames_.back().keys;
    std::sort(keys.begin(), keys.end());
    if (const auto dup = std::adjacent_find(keys.begin(), keys.end()); dup != keys.end()) {
      const std::string key = *dup;
      fail(where_, "invalid JSON: duplicate key \"", key, "\" in object ", path());
    }
    return pop();
  }
  bool parse_error(std::size_t, const std::string&, const json::exception&) { return false; }

 private:
  struct Frame {
    bool is_object;
    std::vector<std::string> keys;  // the last is the current key until the object ends
  };
  bool push(bool is_object) {
    frames_.push_back({is_object, {}});
    return true;
  }
  bool pop() {
    frames_.pop_back();
    return true;
  }
  // The path of the innermost frame, from the current keys of the enclosing objects.
  std::string path() const {
    std::string p;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i)
      p += "/" + (frames_[i].is_object ? frames_[i].keys.back() : std::string("[]"));
    return p.empty() ? "/" : p;
  }

  const std::string& where_;
  std::vector<Frame> frames_;
};

inline const char* json_kind(const nlohmann::json& j) noexcept {
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

template <class T>
T json_as(const nlohmann::json& j, const std::string& path, const std::string& where) {
  const auto wrong = [&](const char* expected) {
    fail(where, "field '", path, "' is ", json_kind(j), ", expected ", expected);
  };
  if constexpr (std::is_same_v<T, nlohmann::json>) {
    return j;
  } else if constexpr (is_optional<T>::value) {
    if (j.is_null()) return std::nullopt;
    return json_as<typename T::value_type>(j, path, where);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) wrong("a boolean");
    return j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!j.is_number_integer()) wrong("an integer");
    if (j.is_number_unsigned()) {
      const auto v = j.get<std::uint64_t>();
      if (!std::in_range<T>(v)) fail(where, "field '", path, "' = ", v, " is out of range");
      return static_cast<T>(v);
    }
    const auto v = j.get<std::int64_t>();
    if (!std::in_range<T>(v)) fail(where, "field '", path, "' = ", v, " is out of range");
    return static_cast<T>(v);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) wrong("a number");
    return j.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) wrong("a string");
    return j.get<std::string>();
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

// Parses `text`; `where` (usually the file path) prefixes every error. Errors: "invalid JSON:
// parse error at line L, column C: ..." and "invalid JSON: duplicate key \"k\" in object /a/b".
inline nlohmann::json parse_json(std::string_view text, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e999
    std::string msg = e.what();  // "[json.exception.parse_error.101] parse error at line 1, ..."
    if (const auto p = msg.find("] "); p != std::string::npos) msg.erase(0, p + 2);
    fail(where, "invalid JSON: ", msg);
  }
  detail::DuplicateKeyCheck check(where);
  nlohmann::json::sax_parse(text.begin(), text.end(), &check);
  return j;
}

// Reads and parses a whole file. Errors name the file: cannot be opened, or as parse_json.
inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open JSON file");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) fail(path.string(), "error while reading JSON file");
  return parse_json(text, path.string());
}

// The value at `path`, or nullptr if a component is missing or traverses a scalar.
inline const nlohmann::json* json_find(const nlohmann::json& j, std::string_view path) {
  const nlohmann::json* node = &j;
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
template <class T>
T json_get(const nlohmann::json& j, std::string_view path, const std::string& where) {
  const nlohmann::json* node = json_find(j, path);
  if (node == nullptr) fail(where, "missing field '", path, "'");
  return detail::json_as<T>(*node, std::string(path), where);
}

// As json_get, but a missing field gives `fallback` (a present field of the wrong type is still
// an error). HF configs omit fields that take the class default.
template <class T>
T json_get_or(const nlohmann::json& j, std::string_view path, T fallback, const std::string& where) {
  const nlohmann::json* node = json_find(j, path);
  if (node == nullptr) return fallback;
  return detail::json_as<T>(*node, std::string(path), where);
}

}  // namespace dsvl::io
