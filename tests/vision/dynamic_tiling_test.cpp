// vision::select_best_resolution, the cropping rule and tile_image against DeepseekVLV2Processor:
// the official processor's tile grids and token counts in tests/data/chat (deepseek-vl2*.json) and
// tests/data/deepseek_vl2/tiling.json, its tiles' bytes (tests/data/deepseek_vl2/
// pixel_values.safetensors), the spec's examples, the tie-breaks of the strict comparisons and the
// double arithmetic.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "dsvl/io/json.hpp"
#if defined(DSVL_WITH_IMAGE)
#include "dsvl/io/image.hpp"
#endif
#include "dsvl/vision/dynamic_tiling.hpp"
#include "dsvl/vision/tile_layout.hpp"
#include "preprocess_fixture.hpp"
#include "reference_fixture.hpp"
#include "shared_data.hpp"

using namespace dsvl;
using vision::CandidateResolutions;
using vision::Resolution;

namespace {

std::vector<Resolution> list(std::initializer_list<Resolution> r) { return r; }

// Whether two uint8 images [h, w, 3] (any row strides) hold the same bytes.
bool same_pixels(View<const std::uint8_t, 3> a, View<const std::uint8_t, 3> b) {
  if (a.shape() != b.shape()) return false;
  for (std::int64_t y = 0; y < a.shape(0); ++y)
    for (std::int64_t x = 0; x < a.shape(1); ++x)
      for (std::int64_t c = 0; c < a.shape(2); ++c)
        if (a(y, x, c) != b(y, x, c)) return false;
  return true;
}

}  // namespace

TEST_CASE("kCandidateResolutionsVL2: the 23 canvases of the released processor_config.json and config.json") {
  const CandidateResolutions c(vision::kCandidateResolutionsVL2);
  CHECK(c.tile_size() == 384);
  CHECK(c.list().size() == 23);
  CHECK(c.list()[7] == Resolution{768, 768});
  CHECK(c.list()[22] == Resolution{1152, 1152});
  for (const Resolution r : c.list()) CHECK((r.width / 384) * (r.height / 384) <= 9);
  const vision::VL2ImageProcessorConfig defaults;
  CHECK(defaults.tile_size() == 384);
  CHECK(defaults.background_color() == std::array<std::uint8_t, 3>{127, 127, 127});

  const auto dir = test::shared_data("tokenizers/deepseek-vl2");
  if (dir.empty()) {
    MESSAGE("skipped the comparison with the released files: shared/data/tokenizers/deepseek-vl2 not found");
    return;
  }
  const auto pc = vision::read_vl2_image_processor_config(dir / "processor_config.json");
  CHECK(pc == defaults);
  const auto cfg_path = dir / "config.json";
  CHECK(vision::parse_candidate_resolutions(io::read_json(cfg_path), cfg_path.string()) == c);
}

TEST_CASE("parse_candidate_resolutions and CandidateResolutions refuse what cannot be tiled") {
  const auto parse = [](const char* text) {
    return vision::parse_candidate_resolutions(io::parse_json(text, "cfg"), "cfg");
  };
  CHECK(parse(R"({"candidate_resolutions": [[102, 102], [102, 204], [306, 102]]})").tile_size() == 102);
  CHECK_THROWS_WITH_AS(parse(R"({"candidate_resolutions": []})"), doctest::Contains("empty"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"candidate_resolutions": [[384, 384], [384, 500]]})"),
                       doctest::Contains("candidate 1 (384, 500) is not a multiple of the tile size 384"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"candidate_resolutions": [[384, 384], [768]]})"),
                       doctest::Contains("field 'candidate_resolutions/1' has 1 values"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"candidate_resolutions": [[0, 0]]})"), doctest::Contains("tile size"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"image_size": 384})"), doctest::Contains("missing field 'candidate_resolutions'"),
                       Error);
  CHECK_THROWS_WITH_AS(CandidateResolutions(list({{384, 384}, {192, 384}})), doctest::Contains("candidate 1"), Error);
  CHECK_THROWS_WITH_AS(CandidateResolutions(std::vector<Resolution>{}), doctest::Contains("empty"), Error);

  const auto pc = [](const char* text) {
    return vision::parse_vl2_image_processor_config(io::parse_json(text, "pc"), "pc");
  };
  CHECK_THROWS_WITH_AS(pc(R"({"candidate_resolutions": [[384, 384]], "downsample_ratio": 2})"),
                       doctest::Contains("missing field 'patch_size'"), Error);
  CHECK_THROWS_WITH_AS(
      pc(R"({"candidate_resolutions": [[384, 384]], "patch_size": 14, "downsample_ratio": 2, "image_mean": [0.5, 0.5]})"),
      doctest::Contains("field 'image_mean' has 2 values"), Error);
  const auto tiny =
      pc(R"({"candidate_resolutions": [[102, 102], [204, 102]], "patch_size": 14, "downsample_ratio": 2,
             "image_mean": [0.25, 0.5, 1.0], "normalize": false})");
  CHECK(tiny.tile_size() == 102);
  CHECK(tiny.background_color() == std::array<std::uint8_t, 3>{63, 127, 255});
  CHECK_FALSE(tiny.normalize);
}

TEST_CASE("select_best_resolution and the cropping rule reproduce the official processor on the chat fixtures") {
  const CandidateResolutions cands(vision::kCandidateResolutionsVL2);
  int images = 0;
  for (const std::string file : {"deepseek-vl2.json", "deepseek-vl2-small.json"}) {
    const auto j = io::read_json(test::test_data("chat/" + file));
    for (const auto& c : j.at("cases")) {
      const auto name = c.at("name").get<std::string>();
      CAPTURE(file);
      CAPTURE(name);
      const auto& imgs = c.at("images");
      const bool cropping = vision::cropping_enabled(imgs.size());
      CHECK(cropping == c.at("cropping").get<bool>());
      for (const auto& im : imgs) {
        const std::int64_t w = im.at("width"), h = im.at("height");
        CAPTURE(w);
        CAPTURE(h);
        const Resolution best = vision::local_view_resolution(w, h, cands, cropping);
        const std::int64_t nw = best.width / 384, nh = best.height / 384;
        CHECK(nw == im.at("width_tiles").get<std::int64_t>());
        CHECK(nh == im.at("height_tiles").get<std::int64_t>());
        CHECK(vision::image_token_count(14, nw, nh) == im.at("num_image_tokens").get<std::int64_t>());
        ++images;
      }
    }
  }
  MESSAGE(images, " images of the official processor's cases");
  CHECK(images == 2 * 24);
}

TEST_CASE("select_best_resolution and token counts equal the official processor's tiling.json (384 and 102-px lists)") {
  const auto path = test::test_data("deepseek_vl2/tiling.json");
  if (!std::filesystem::exists(path)) {
    MESSAGE("skipped: tests/data/deepseek_vl2/tiling.json not found");
    return;
  }
  const auto j = io::read_json(path);
  int compared = 0;
  for (const auto& list : j.at("lists").items()) {
    const std::string& name = list.key();
    const auto& l = list.value();
    CAPTURE(name);
    const auto cands = vision::parse_candidate_resolutions(l, path.string());
    CHECK(cands.tile_size() == l.at("tile").get<std::int64_t>());
    const std::int64_t t = vision::tokens_per_tile_side(cands.tile_size(), l.at("patch_size").get<std::int64_t>(),
                                                        l.at("downsample_ratio").get<std::int64_t>());
    CHECK(t == l.at("tokens_per_tile_side").get<std::int64_t>());
    for (const auto& c : l.at("cases")) {
      const auto w = c.at("size")[0].get<std::int64_t>(), h = c.at("size")[1].get<std::int64_t>();
      CAPTURE(w);
      CAPTURE(h);
      const Resolution best = vision::select_best_resolution(w, h, cands.list());
      CHECK(best == Resolution{c.at("best")[0].get<std::int64_t>(), c.at("best")[1].get<std::int64_t>()});
      const std::int64_t nw = best.width / cands.tile_size(), nh = best.height / cands.tile_size();
      CHECK(nw == c.at("tiles")[0].get<std::int64_t>());
      CHECK(nh == c.at("tiles")[1].get<std::int64_t>());
      if (c.contains("num_tiles")) CHECK(1 + nw * nh == c.at("num_tiles").get<std::int64_t>());
      if (c.contains("num_image_tokens"))
        CHECK(vision::image_token_count(t, nw, nh) == c.at("num_image_tokens").get<std::int64_t>());
      ++compared;
    }
  }
  MESSAGE(compared, " image sizes compared");
  CHECK(compared > 0);
}

TEST_CASE("select_best_resolution: the spec's examples, strict tie-breaks and Python's double arithmetic") {
  const auto& real = vision::kCandidateResolutionsVL2;
  CHECK(vision::select_best_resolution(640, 480, real) == Resolution{768, 768});
  CHECK(vision::select_best_resolution(1000, 1000, real) == Resolution{1152, 1152});
  CHECK(vision::select_best_resolution(384, 384, real) == Resolution{384, 384});

  // A full tie (same effective and wasted pixels) keeps the earlier candidate.
  const auto portrait_first = list({{384, 768}, {768, 384}});
  const auto landscape_first = list({{768, 384}, {384, 768}});
  CHECK(vision::select_best_resolution(384, 384, portrait_first) == Resolution{384, 768});
  CHECK(vision::select_best_resolution(384, 384, landscape_first) == Resolution{768, 384});
  // Equal effective pixels: strictly less waste wins, whatever the order.
  CHECK(vision::select_best_resolution(640, 480, list({{1152, 1152}, {768, 768}})) == Resolution{768, 768});
  CHECK(vision::select_best_resolution(640, 480, list({{768, 768}, {1152, 1152}})) == Resolution{768, 768});
  // More effective pixels win even with more waste.
  CHECK(vision::select_best_resolution(2000, 2000, list({{768, 768}, {1152, 1152}})) == Resolution{1152, 1152});
  // Every candidate leaves 0 effective pixels (int(1 * scale) = 0): the first one is taken, as
  // the official loop starts from an infinite waste.
  CHECK(vision::select_best_resolution(1, 100000, real) == Resolution{384, 384});
  CHECK(vision::select_best_resolution(100000, 1, real) == Resolution{384, 384});
  // int(w * scale) in double truncates below the exact value here, so the official processor
  // picks another canvas than exact rational arithmetic would (found by comparing the two).
  CHECK(vision::select_best_resolution(3006, 4512, real) == Resolution{768, 1152});    // exact: (768, 1536)
  CHECK(vision::select_best_resolution(5142, 1286, real) == Resolution{1536, 384});    // exact: (1536, 768)
  CHECK(vision::select_best_resolution(4905, 613, real) == Resolution{3072, 384});     // exact: (3456, 384)
  CHECK(vision::select_best_resolution(2244, 1495, real) == Resolution{1152, 768});    // exact: (1536, 768)
  CHECK(vision::select_best_resolution(625, 3751, real) == Resolution{384, 2304});     // exact: (384, 2688)

  CHECK_THROWS_WITH_AS(vision::select_best_resolution(0, 10, real), doctest::Contains("empty"), Error);
  CHECK_THROWS_WITH_AS(vision::select_best_resolution(10, 10, std::span<const Resolution>{}),
                       doctest::Contains("candidate resolutions is empty"), Error);
}

TEST_CASE("cropping_enabled: tiles only for requests of at most two images") {
  CHECK(vision::cropping_enabled(0));
  CHECK(vision::cropping_enabled(1));
  CHECK(vision::cropping_enabled(2));
  CHECK_FALSE(vision::cropping_enabled(3));
  CHECK_FALSE(vision::cropping_enabled(10));
  const CandidateResolutions cands(vision::kCandidateResolutionsVL2);
  CHECK(vision::local_view_resolution(1000, 1000, cands, false) == Resolution{384, 384});
  CHECK(vision::local_view_resolution(1000, 1000, cands, true) == Resolution{1152, 1152});
}

TEST_CASE("tile_image: the global view and the row-major crops of ImageOps.pad's canvas, with a 102-px tile") {
  vision::VL2ImageProcessorConfig cfg;
  cfg.candidate_resolutions = CandidateResolutions(list({{102, 102}, {102, 204}, {204, 102}, {306, 204}, {204, 204}}));
  const std::uint8_t fill[3] = {127, 127, 127};
  const auto img = test::pattern("noise", 7, 130, 250);  // h 130, w 250
  ThreadPool pool(2);
  const vision::ImageTiles t = vision::tile_image(img.view(), cfg, true, vision::kDefaultPillowVersion, pool);
  REQUIRE(vision::select_best_resolution(250, 130, cfg.candidate_resolutions.list()) == Resolution{306, 204});
  CHECK(t.tile_size == 102);
  CHECK(t.width_tiles == 3);
  CHECK(t.height_tiles == 2);
  CHECK(t.num_tiles() == 7);
  const auto global = vision::contain_and_pad(img.view(), 102, 102, fill);
  const auto canvas = vision::contain_and_pad(img.view(), 204, 306, fill);
  CHECK(same_pixels(t.global_view.view(), global.view()));
  CHECK(same_pixels(t.local_view.view(), canvas.view()));
  CHECK(same_pixels(t.tile(0), global.view()));
  for (std::int64_t r = 0; r < 2; ++r)
    for (std::int64_t c = 0; c < 3; ++c) {
      CAPTURE(r);
      CAPTURE(c);
      const auto want = canvas.view().slice(0, r * 102, (r + 1) * 102).slice(1, c * 102, (c + 1) * 102);
      CHECK(same_pixels(t.local_tile(r, c), want));
      CHECK(same_pixels(t.tile(1 + r * 3 + c), want));
    }
  // The image (250x130) is wider than the canvas (306x204): resized to 306x159 and pasted at
  // y = round(45 / 2) = 22, so rows 0..21 and 181..203 hold the fill.
  for (const std::int64_t y : {0, 21, 181, 203}) CHECK(canvas(y, 100, 0) == 127);
  CHECK_THROWS_WITH_AS(t.local_tile(2, 0), doctest::Contains("outside the 2x3 grid"), Error);

  // Three or more images in the request: one local tile, equal to the global view.
  const vision::ImageTiles one = vision::tile_image(img.view(), cfg, false);
  CHECK(one.width_tiles == 1);
  CHECK(one.height_tiles == 1);
  CHECK(same_pixels(one.local_tile(0, 0), global.view()));

  const Tensor<std::uint8_t, 3> empty({0, 5, 3}), rgba({4, 4, 4});
  CHECK_THROWS_WITH_AS(vision::tile_image(empty.view(), cfg, true), doctest::Contains("the image is empty"), Error);
  CHECK_THROWS_WITH_AS(vision::tile_image(rgba.view(), cfg, true), doctest::Contains("channels, expected RGB"), Error);
}

TEST_CASE("tile_pixel_values: ToTensor then Normalize(0.5, 0.5) in float32, global tile first") {
  vision::VL2ImageProcessorConfig cfg;
  cfg.candidate_resolutions = CandidateResolutions(list({{102, 102}, {204, 102}}));
  const auto img = test::pattern("noise", 3, 60, 140);
  const vision::ImageTiles t = vision::tile_image(img.view(), cfg, true);
  REQUIRE(t.num_tiles() == 3);
  const Tensor<float, 4> px = vision::tile_pixel_values(t, cfg);
  REQUIRE(px.shape() == Tensor<float, 4>::Shape{3, 3, 102, 102});
  double max_vs_affine = 0;
  for (std::int64_t i = 0; i < 3; ++i) {
    const auto tile = t.tile(i);
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < 102; ++y)
        for (std::int64_t x = 0; x < 102; ++x) {
          const std::uint8_t u = tile(y, x, c);
          const float want = (static_cast<float>(u) / 255.0f - 0.5f) / 0.5f;
          REQUIRE(px(i, c, y, x) == want);
          max_vs_affine = std::max(max_vs_affine, std::abs(px(i, c, y, x) - (u / 127.5 - 1.0)));
        }
  }
  CHECK(max_vs_affine < 1e-6);  // x / 127.5 - 1 up to f32 rounding

  cfg.normalize = false;
  const Tensor<float, 4> raw = vision::tile_pixel_values(t, cfg);
  CHECK(raw(2, 1, 5, 7) == static_cast<float>(t.tile(2)(5, 7, 1)) / 255.0f);
  Tensor<float, 4> wrong({2, 3, 102, 102});
  CHECK_THROWS_WITH_AS(vision::tile_pixel_values(t, cfg, wrong.view()), doctest::Contains("expected (3, 3, 102, 102)"),
                       Error);
}

#if defined(DSVL_WITH_IMAGE)
// tools/reference/deepseek_vl2.py kept the uint8 tiles [n_tiles, 3, 102, 102] that the official
// processor made of image_a/b/c.png for the tiny models' 102-px candidate list.
TEST_CASE("tile_image equals the official processor's tiles byte for byte (tests/data/deepseek_vl2)") {
  const auto dir = test::test_data("deepseek_vl2");
  if (!std::filesystem::exists(dir / "pixel_values.safetensors")) {
    MESSAGE("skipped: tests/data/deepseek_vl2/pixel_values.safetensors not found");
    return;
  }
  const auto cfg = vision::read_vl2_image_processor_config(dir / "tiny-mha" / "processor_config.json");
  REQUIRE(cfg.tile_size() == 102);
  const test::ReferenceFile ref(dir / "pixel_values.safetensors");
  struct Case {
    std::string name;
    std::vector<std::string> images;
  };
  const Case cases[] = {{"tiles", {"image_a.png"}}, {"two", {"image_b.png", "image_c.png"}},
                        {"three", {"image_a.png", "image_b.png", "image_c.png"}}};
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const bool cropping = vision::cropping_enabled(c.images.size());
    std::vector<vision::ImageTiles> tiles;
    std::int64_t n = 0;
    for (const std::string& file : c.images) {
      tiles.push_back(vision::tile_image(io::read_image(dir / file).view(), cfg, cropping));
      n += tiles.back().num_tiles();
    }
    const std::string name = c.name + ".pixel_values.u8";
    REQUIRE(ref.shape(name) == std::vector<std::int64_t>{n, 3, 102, 102});
    const auto* want = reinterpret_cast<const std::uint8_t*>(ref.data(name, "U8", {n, 3, 102, 102}));
    std::int64_t k = 0, differ = 0;
    for (const auto& t : tiles)
      for (std::int64_t i = 0; i < t.num_tiles(); ++i, ++k) {
        const auto tile = t.tile(i);
        for (std::int64_t ch = 0; ch < 3; ++ch)
          for (std::int64_t y = 0; y < 102; ++y)
            for (std::int64_t x = 0; x < 102; ++x) differ += tile(y, x, ch) != want[((k * 3 + ch) * 102 + y) * 102 + x];
      }
    CHECK(differ == 0);
  }
}
#endif
