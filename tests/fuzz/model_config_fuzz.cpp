// Fuzz target for config.json: the input is written as the config.json of a model folder and every
// entry of models::Registry reads it (E::read_config, as open_model and inspect_model do) and
// describes what it read. Anything wrong must be a dsvl::Error. A config that reads is written out
// again (E::write_config_files) and must read back equal and be recognised as its generation; the
// writer may refuse sizes it cannot express (e.g. a tile size other than the released one), with
// a dsvl::Error.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "dsvl/io/json.hpp"
#include "dsvl/models/registry.hpp"
#include "fuzz/temp_dir.hpp"

namespace {

const dsvl_test::FuzzTempDir& temp() {
  static const dsvl_test::FuzzTempDir dir("model-config");
  return dir;
}

void check(bool ok, const char* what, std::string_view generation) {
  if (ok) return;
  std::fprintf(stderr, "model_config_fuzz: %s: %s\n", std::string(generation).c_str(), what);
  std::abort();
}

template <class E>
void read_as(const std::filesystem::path& in, const std::filesystem::path& out) {
  typename E::Config config;
  try {
    config = E::read_config(in);
  } catch (const dsvl::Error&) {
    return;
  }
  check(!E::describe(config).empty(), "describe() is empty", E::name);
  try {
    E::write_config_files(out, config);
  } catch (const dsvl::Error&) {
    return;
  }
  check(E::recognises(dsvl::io::read_json(out / "config.json")), "the written config.json is not recognised", E::name);
  check(E::read_config(out) == config, "the written config.json reads back as another config", E::name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path in = temp().path() / "in", out = temp().path() / "out";
  std::filesystem::create_directories(in);
  std::filesystem::create_directories(out);
  temp().write("in/config.json", data, size);
  dsvl::models::for_each_entry([&](auto entry) { read_as<decltype(entry)>(in, out); });
  return 0;
}
