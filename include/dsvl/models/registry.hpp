#pragma once
// The registry: every generation dsvl runs, one entry each (models/*_entry.hpp), and the one place
// where a model directory's config.json picks a type. Adding a generation means writing its
// blocks, its processor and its entry, and naming the entry in Registry; the model shell
// (models/model.hpp) and the dsvl tool are not edited (docs/adding-a-model.md).
//
// An entry is a struct with
//   name                     the generation's name ("DeepSeek-VL2")
//   Config, Processor        its config (read from config.json) and its processor type
//   Model<P, VisionP>        its composed model type, sizes read at run time
//   recognises(json)         whether a parsed config.json is this generation's
//   recognised_by            what recognises() looks for, for the error when nothing does
//   read_config(dir), processor(dir, config, pillow)
//   presets                  its released sizes (models/preset.hpp)
//   describe(config)         the architecture in a few lines
//   write_config_files(dir, config)   the JSON files of a model directory of that config
// and optionally with_routed_experts(config, n) where the generation has routed experts.

#include <concepts>
#include <filesystem>
#include <string>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

#include "dsvl/core/error.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/models/deepseek_ocr_entry.hpp"
#include "dsvl/models/deepseek_vl2_entry.hpp"
#include "dsvl/models/deepseek_vl_entry.hpp"
#include "dsvl/models/janus_pro_entry.hpp"

namespace dsvl::models {

// The shell's functions take a registry as a template argument, this one by default; a program
// that runs one generation can name a registry of its entry alone and build only its types. The
// first entry that recognises a config.json takes it: Janus-Pro comes before DeepSeek-VL and
// DeepSeek-OCR before DeepSeek-VL2, whose model_types they share.
using Registry = std::tuple<JanusProEntry, DeepSeekVLEntry, DeepSeekOcrEntry, DeepSeekVL2Entry>;

template <class E>
concept RegistryEntry = requires(const nlohmann::json& j, const std::filesystem::path& dir, const typename E::Config& c) {
  { E::name } -> std::convertible_to<std::string_view>;
  { E::recognised_by } -> std::convertible_to<std::string_view>;
  { E::recognises(j) } -> std::same_as<bool>;
  { E::read_config(dir) } -> std::same_as<typename E::Config>;
  { E::describe(c) } -> std::same_as<std::string>;
  E::presets.size();
  E::write_config_files(dir, c);
};

// Calls f(E{}) for every entry E of R, in order.
template <class R = Registry, class F>
void for_each_entry(F&& f) {
  std::apply([&](auto... entry) { (f(entry), ...); }, R{});
}

namespace detail {
template <class R, std::size_t I, class F>
decltype(auto) dispatch_entry(const nlohmann::json& config, const std::filesystem::path& file, F& f) {
  if constexpr (I + 1 < std::tuple_size_v<R>) {
    using E = std::tuple_element_t<I, R>;
    if (E::recognises(config)) return f(E{});
    return dispatch_entry<R, I + 1>(config, file, f);
  } else {
    using E = std::tuple_element_t<I, R>;
    if (!E::recognises(config)) {
      std::string expected;
      for_each_entry<R>([&](auto e) {
        expected += std::string(expected.empty() ? "" : ", or ") + std::string(e.recognised_by) + " (" +
                    std::string(e.name) + ")";
      });
      const auto* type = io::json_find(config, "model_type");
      fail(file.string(), "model_type ", type != nullptr ? type->dump() : std::string("(absent)"),
           " is not a model dsvl runs; expected ", expected);
    }
    return f(E{});
  }
}
}  // namespace detail

// f(E{}) for the entry E of R that recognises the model directory `dir` (its config.json), else
// an error naming the file and what each generation looks for. f returns the same type for every E.
template <class R = Registry, class F>
decltype(auto) with_entry(const std::filesystem::path& dir, F&& f) {
  if (dir.empty()) fail("models::open_model", "no model directory given");
  if (!std::filesystem::is_directory(dir)) fail(dir.string(), "no such model directory");
  const std::filesystem::path file = dir / "config.json";
  return detail::dispatch_entry<R, 0>(io::read_json(file), file, f);
}

}  // namespace dsvl::models
