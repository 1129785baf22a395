#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include "dsvl/io/json.hpp"

namespace {

namespace fs = std::filesystem;
using dsvl::io::json_get;
using dsvl::io::json_get_or;
using nlohmann::json;

// A file under a fresh temporary directory, removed at the end of the test.
struct TempFile {
  fs::path dir, path;
  explicit TempFile(const std::string& text) {
    static std::atomic<int> counter{0};
    dir = fs::temp_directory_path() /
          ("dsvl_json_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir);
    path = dir / "config.json";
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const dsvl::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("read_json: reads a file and reports where it is broken") {
  TempFile good(R"({"a": {"b": [1, 2, 3]}, "name": "x"})");
  const json j = dsvl::io::read_json(good.path);
  CHECK(j["a"]["b"].size() == 3);

  TempFile bad("{\n  \"a\": 1,\n  \"b\": ]\n}");
  const std::string msg = error_of([&] { dsvl::io::read_json(bad.path); });
  CHECK(msg.find(bad.path.string()) == 0);
  CHECK(msg.find("invalid JSON: parse error at line 3, column 8") != std::string::npos);

  const std::string missing = error_of([&] { dsvl::io::read_json(good.dir / "nope.json"); });
  CHECK(missing.find("nope.json: cannot open JSON file") != std::string::npos);
}

TEST_CASE("parse_json: duplicate keys are errors, at any depth") {
  CHECK(error_of([] { dsvl::io::parse_json(R"({"a": 1, "a": 2})", "f.json"); }) ==
        "f.json: invalid JSON: duplicate key \"a\" in object /");
  CHECK(error_of([] { dsvl::io::parse_json(R"({"x": [{"k": 1}, {"k": 1, "k": 2}]})", "f.json"); }) ==
        "f.json: invalid JSON: duplicate key \"k\" in object /x/[]");
  // The same key in sibling objects is fine.
  CHECK(dsvl::io::parse_json(R"({"a": {"k": 1}, "b": {"k": 2}})", "f.json")["b"]["k"] == 2);
}

TEST_CASE("json_get: required fields by path, with exact types") {
  const json j = dsvl::io::parse_json(
      R"({"vision_config": {"params": {"width": 1152, "mlp_ratio": 3.7362, "name": "siglip"}},
          "layers": [{"dim": 7}, {"dim": 9}], "big": 300, "neg": -1, "flag": true,
          "q_lora_rank": null, "sizes": [1, 2, 3], "mixed": [1, 2.5]})",
      "c.json");
  CHECK(json_get<int>(j, "vision_config/params/width", "c.json") == 1152);
  CHECK(json_get<double>(j, "vision_config/params/mlp_ratio", "c.json") == doctest::Approx(3.7362));
  CHECK(json_get<float>(j, "vision_config/params/width", "c.json") == 1152.0f);  // integers are numbers
  CHECK(json_get<std::string>(j, "vision_config/params/name", "c.json") == "siglip");
  CHECK(json_get<int>(j, "layers/1/dim", "c.json") == 9);
  CHECK(json_get<bool>(j, "flag", "c.json"));
  CHECK(json_get<std::int64_t>(j, "neg", "c.json") == -1);
  CHECK(json_get<std::vector<int>>(j, "sizes", "c.json") == std::vector<int>{1, 2, 3});
  CHECK(json_get<std::optional<int>>(j, "q_lora_rank", "c.json") == std::nullopt);
  CHECK(json_get<std::optional<int>>(j, "big", "c.json") == 300);
  CHECK(json_get<json>(j, "layers/0", "c.json")["dim"] == 7);

  CHECK(error_of([&] { json_get<int>(j, "vision_config/params/depth", "c.json"); }) ==
        "c.json: missing field 'vision_config/params/depth'");
  CHECK(error_of([&] { json_get<int>(j, "layers/2/dim", "c.json"); }) == "c.json: missing field 'layers/2/dim'");
  CHECK(error_of([&] { json_get<int>(j, "flag/x", "c.json"); }) == "c.json: missing field 'flag/x'");
  CHECK(error_of([&] { json_get<int>(j, "vision_config/params/name", "c.json"); }) ==
        "c.json: field 'vision_config/params/name' is a string, expected an integer");
  CHECK(error_of([&] { json_get<int>(j, "vision_config/params/mlp_ratio", "c.json"); }) ==
        "c.json: field 'vision_config/params/mlp_ratio' is a non-integer number, expected an integer");
  CHECK(error_of([&] { json_get<std::uint8_t>(j, "big", "c.json"); }) == "c.json: field 'big' = 300 is out of range");
  CHECK(error_of([&] { json_get<unsigned>(j, "neg", "c.json"); }) == "c.json: field 'neg' = -1 is out of range");
  CHECK(error_of([&] { json_get<int>(j, "q_lora_rank", "c.json"); }) ==
        "c.json: field 'q_lora_rank' is null, expected an integer");
  CHECK(error_of([&] { json_get<std::vector<int>>(j, "mixed", "c.json"); }) ==
        "c.json: field 'mixed/1' is a non-integer number, expected an integer");
  CHECK(error_of([&] { json_get<bool>(j, "big", "c.json"); }) == "c.json: field 'big' is an integer, expected a boolean");
}

TEST_CASE("json_get_or: defaults for missing fields only") {
  const json j = dsvl::io::parse_json(R"({"a": {"b": 5, "s": "x"}, "n": null})", "c.json");
  CHECK(json_get_or<int>(j, "a/b", 1, "c.json") == 5);
  CHECK(json_get_or<int>(j, "a/c", 1, "c.json") == 1);
  CHECK(json_get_or<double>(j, "x/y/z", 0.5, "c.json") == 0.5);
  CHECK(json_get_or<std::optional<int>>(j, "n", 3, "c.json") == std::nullopt);
  CHECK(json_get_or<std::optional<int>>(j, "m", std::nullopt, "c.json") == std::nullopt);
  CHECK(error_of([&] { json_get_or<int>(j, "a/s", 1, "c.json"); }) == "c.json: field 'a/s' is a string, expected an integer");
}

TEST_CASE("parse_json: a number out of range is an error like any other") {
  CHECK(error_of([] { dsvl::io::parse_json("0.02e2202", "f.json"); }) ==
        "f.json: invalid JSON: number overflow parsing '0.02e2202'");
}
