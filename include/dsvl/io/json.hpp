#pragma once
// JSON reading for configs, checkpoint indexes and safetensors headers: a thin layer over
// nlohmann::json whose errors are dsvl::Error naming the file and the position or field.
//
// Parsing is strict about one thing nlohmann accepts silently: a key repeated inside one object
// (nlohmann keeps the last) is an error, reported with the key and the path of its object.
//
// Fields are read with io/json_get.hpp (json_find, json_get, json_get_or), which this header
// includes; headers that only read fields of a document someone else parsed (the config structs'
// parse_* functions) include that one alone, without the JSON library's definitions.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/error.hpp"
#include "dsvl/io/json_get.hpp"

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

// The largest JSON file read, far above any model's (a tokenizer.json is about 10 MB).
inline constexpr std::uintmax_t kMaxJsonBytes = std::uintmax_t{1} << 28;

// Reads and parses a whole file. Errors name the file: a folder, over kMaxJsonBytes, cannot be
// opened, or as parse_json.
inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path.string(), "is a folder, expected a JSON file");
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxJsonBytes)
    fail(path.string(), "is ", size, " bytes, dsvl reads JSON files of at most ", kMaxJsonBytes);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open JSON file");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) fail(path.string(), "error while reading JSON file");
  return parse_json(text, path.string());
}

}  // namespace dsvl::io
