// The config mechanism (core/config.hpp, io/config_json.hpp) on a toy config with every kind of
// field: reading with fallbacks and errors, writing, printing, differences, preset checks.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/inline_list.hpp"
#include "dsvl/io/config_json.hpp"

namespace {

using namespace dsvl;

enum class Mode { fast, exact };
inline constexpr const char* kModeNames[] = {"fast", "exact"};

struct Inner {
  std::int64_t size = 4;
  std::array<double, 2> scale{1.0, 2.0};
  static constexpr const char* kName = "Inner";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.field("size", c.size, std::int64_t{4});
    v.field("scale", c.scale, std::array<double, 2>{1.0, 2.0});
  }
  bool operator==(const Inner&) const = default;
};

struct Toy {
  std::int64_t width = 0;
  std::int64_t heads = 0;
  std::int64_t kv_heads = 0;
  std::int64_t rank = 0;
  Mode mode = Mode::fast;
  InlineList<std::int64_t, 4> layers{};
  bool flag = false;
  double eps = 1e-6;
  Inner inner{};
  static constexpr const char* kName = "Toy";
  template <class Self, class V>
  static constexpr void visit(Self& c, V& v) {
    v.field("width", c.width, config::required);
    v.field("heads", c.heads, std::int64_t{2}, config::kHeads);
    v.field("kv_heads", c.kv_heads, c.heads);  // read in order: defaults to heads
    v.nullable("rank", c.rank, std::int64_t{16}, config::Range<std::int64_t>{1, 64});
    v.choice("mode", c.mode, Mode::exact, kModeNames);
    v.field("layers", c.layers, InlineList<std::int64_t, 4>{1}, config::kLayers);
    v.field("flag", c.flag, false);
    v.fixed("eps", c.eps);
    v.child("inner", c.inner);
  }
  bool operator==(const Toy&) const = default;
};

Toy read(const nlohmann::json& j) {
  Toy t;
  io::json_get_fields(j, "", t, "toy.json");
  return t;
}

}  // namespace

TEST_CASE("config: absent keys take their fallbacks, null reads as 0, fixed fields are not read") {
  const Toy t = read(nlohmann::json::parse(R"({"width": 8, "heads": 3, "rank": null, "eps": 5.0})"));
  CHECK(t.width == 8);
  CHECK(t.heads == 3);
  CHECK(t.kv_heads == 3);
  CHECK(t.rank == 0);
  CHECK(t.mode == Mode::exact);
  CHECK(t.layers == InlineList<std::int64_t, 4>{1});
  CHECK(t.eps == 1e-6);
  CHECK(t.inner == Inner{});
  CHECK(read(nlohmann::json::parse(R"({"width": 8})")).rank == 16);

  const Toy n = read(nlohmann::json::parse(
      R"({"width": 8, "mode": "fast", "layers": [1, 2, 3], "inner": {"size": 7, "scale": [0.5, 0.25]}})"));
  CHECK(n.mode == Mode::fast);
  CHECK(n.layers == InlineList<std::int64_t, 4>{1, 2, 3});
  CHECK(n.inner == Inner{7, {0.5, 0.25}});

  // Under a path, as DeepSeek-VL's language_config.
  Toy nested;
  io::json_get_fields(nlohmann::json::parse(R"({"part": {"width": 5}})"), "part", nested, "toy.json");
  CHECK(nested.width == 5);
}

TEST_CASE("config: errors name the file and the field") {
  const auto fails_with = [](const char* text, const char* needle) {
    CHECK_THROWS_WITH_AS(read(nlohmann::json::parse(text)), doctest::Contains(needle), Error);
  };
  fails_with(R"({})", "toy.json: missing field 'width'");
  fails_with(R"({"width": "8"})", "field 'width' is a string, expected an integer");
  fails_with(R"({"width": 8, "mode": "slow"})", "field 'mode' is \"slow\", dsvl supports \"fast\", \"exact\"");
  fails_with(R"({"width": 8, "layers": [1, 2, 3, 4, 5]})", "field 'layers' has 5 entries, at most 4");
  fails_with(R"({"width": 8, "inner": {"scale": [1.0]}})", "field 'inner/scale' has 1 values, expected 2");
  fails_with(R"({"width": 8, "inner": {"size": 1.5}})", "field 'inner/size' is a non-integer number");
  Toy t;
  CHECK_THROWS_WITH_AS(io::json_get_fields(nlohmann::json::parse(R"({"part": {}})"), "part", t, "c.json"),
                       doctest::Contains("missing field 'part/width'"), Error);
}

TEST_CASE("config: writing gives back what reading takes") {
  Toy t;
  t.width = 8;
  t.heads = 4;
  t.kv_heads = 2;
  t.rank = 0;
  t.mode = Mode::fast;
  t.layers = {3, 1};
  t.flag = true;
  t.inner = {9, {0.5, 4.0}};
  nlohmann::json j;
  io::json_set_fields(j, t);
  CHECK(j["rank"].is_null());
  CHECK(j["mode"] == "fast");
  CHECK(j["layers"] == nlohmann::json::array({3, 1}));
  CHECK(j["inner"]["size"] == 9);
  CHECK_FALSE(j.contains("eps"));
  CHECK(read(j) == t);
  t.rank = 12;
  io::json_set_fields(j, t);
  CHECK(j["rank"] == 12);
}

TEST_CASE("config: to_string, differences and the preset check walk the same declaration") {
  Toy a;
  a.width = 8;
  a.layers = {1, 2};
  CHECK(config::to_string(a) ==
        "Toy{width=8, heads=0, kv_heads=0, rank=0, mode=fast, layers=[1, 2], flag=false, eps=1e-06, "
        "inner=Inner{size=4, scale=[1, 2]}}");
  Toy b = a;
  CHECK(config::differences(a, b).empty());
  CHECK_NOTHROW(config::check_matches_preset(a, b, "toy"));
  b.width = 6;
  b.mode = Mode::exact;
  b.eps = 0.5;
  b.inner.scale = {1.0, 2.5};
  CHECK(config::differences(a, b) == std::vector<std::string>{"width: 8 vs 6", "mode: fast vs exact", "eps: 1e-06 vs 0.5",
                                                                "inner.scale: [1, 2] vs [1, 2.5]"});
  CHECK_THROWS_WITH_AS(config::check_matches_preset(a, b, "toy"),
                       doctest::Contains("toy: field 'width' is 8 but the compile-time Toy fixes it to 6"), Error);
  CHECK_THROWS_WITH_AS(config::check_matches_preset(a, b, "toy"),
                       doctest::Contains("field 'inner.scale' is [1, 2] but the compile-time Toy fixes it to [1, 2.5]"),
                       Error);
}

TEST_CASE("config: a value read from a file outside its range is refused with the field and the bound") {
  const auto refused = [](const char* text, const char* message) {
    CHECK_THROWS_WITH_AS(read(nlohmann::json::parse(text)), doctest::Contains(message), Error);
  };
  refused(R"({"width": 8, "heads": 1000000000})", "toy.json: field 'heads' is 1000000000, dsvl accepts 0 to 1024");
  refused(R"({"width": 8, "heads": -1})", "field 'heads' is -1, dsvl accepts 0 to 1024");
  refused(R"({"width": 8, "rank": 0})", "field 'rank' is 0, dsvl accepts 1 to 64");
  refused(R"({"width": 8, "layers": [1, 5000]})", "field 'layers' is 5000, dsvl accepts 0 to 1024");
  // The bounds hold for what a file says; null and the fallbacks are not read from it.
  CHECK(read(nlohmann::json::parse(R"({"width": 8, "rank": null})")).rank == 0);
  CHECK(read(nlohmann::json::parse(R"({"width": 8, "heads": 1024, "rank": 64, "layers": [0, 1024]})")).heads == 1024);
}
