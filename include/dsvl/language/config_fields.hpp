#pragma once
// The fields of a config struct that lists them once in `static void visit(c, v)` (LlamaConfig,
// DeepseekV2Config), as (key, value as text), and what is built on them: printing
// "Name{key=value, ...}" and the list of fields in which two configs differ.
//
// The walk calls v.field(key, member[, fallback]), v.nullable(key, member, fallback) (0 printed as
// 0) and v.choice(key, member, fallback, names, count) (an enum printed by its name).

#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace dsvl::language::detail {

struct ConfigFieldPrinter {
  std::vector<std::pair<std::string, std::string>> fields;
  template <class T, class... Fallback>
  void field(const char* key, const T& value, const Fallback&...) {
    std::ostringstream os;
    if constexpr (std::is_same_v<T, bool>) os << (value ? "true" : "false");
    else os << value;
    fields.emplace_back(key, os.str());
  }
  template <class T, class F>
  void nullable(const char* key, const T& value, const F& fallback) {
    field(key, value, fallback);
  }
  template <class E>
  void choice(const char* key, const E& value, E, const char* const* names, int) {
    fields.emplace_back(key, names[static_cast<int>(value)]);
  }
};

template <class Config>
std::vector<std::pair<std::string, std::string>> config_fields(const Config& c) {
  ConfigFieldPrinter p;
  Config::visit(c, p);
  return p.fields;
}

// "<name>{key=value, ...}".
template <class Config>
std::ostream& print_config(std::ostream& os, const char* name, const Config& c) {
  os << name << '{';
  const auto fields = config_fields(c);
  for (std::size_t i = 0; i < fields.size(); ++i) os << (i ? ", " : "") << fields[i].first << '=' << fields[i].second;
  return os << '}';
}

// The fields that differ, as "key: a vs b" (empty when a == b).
template <class Config>
std::vector<std::string> config_differences(const Config& a, const Config& b) {
  const auto fa = config_fields(a), fb = config_fields(b);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < fa.size(); ++i)
    if (fa[i].second != fb[i].second) out.push_back(fa[i].first + ": " + fa[i].second + " vs " + fb[i].second);
  return out;
}

}  // namespace dsvl::language::detail
