// vision::image_token_count and layout_image_embeddings against DeepSeek-VL2's
// prepare_inputs_embeds (tile_tag "2D"): the spec's table of N for every candidate, the row of
// every token of a 2x3 grid, and the official inputs_embeds of the tiny models in
// tests/data/deepseek_vl2.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "dsvl/io/json.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/vision/dynamic_tiling.hpp"
#include "dsvl/vision/tile_layout.hpp"
#include "reference_fixture.hpp"

using namespace dsvl;

TEST_CASE("image_token_count: the spec 4.5 table for all 23 candidates") {
  CHECK(vision::tokens_per_tile_side(384, 14, 2) == 14);
  CHECK(vision::tokens_per_tile_side(102, 14, 2) == 4);  // ceil(7 / 2)
  CHECK(vision::tokens_per_tile_side(56, 14, 2) == 2);
  const std::int64_t want[23] = {421,  631,  617,  841,  813,  1051, 1009, 1023, 1261, 1205, 1471, 1401,
                                 1429, 1415, 1681, 1597, 1891, 1793, 1835, 1807, 2101, 1989, 2017};
  for (std::size_t i = 0; i < 23; ++i) {
    const vision::Resolution r = vision::kCandidateResolutionsVL2[i];
    CAPTURE(r.width);
    CAPTURE(r.height);
    CHECK(vision::image_token_count(14, r.width / 384, r.height / 384) == want[i]);
  }
  CHECK(vision::image_token_count(14, 1, 1) == 211 + 14 * 1 * (14 * 1 + 1));
  CHECK_THROWS_WITH_AS(vision::image_token_count(14, 0, 1), doctest::Contains("width_tiles"), Error);
}

TEST_CASE("parse_global_view_pos: tile_tag \"2D\" and global_view_pos") {
  const auto parse = [](const char* text) { return vision::parse_global_view_pos(io::parse_json(text, "cfg"), "cfg"); };
  CHECK(parse(R"({"tile_tag": "2D", "global_view_pos": "head"})") == vision::GlobalViewPos::head);
  CHECK(parse(R"({"tile_tag": "2D"})") == vision::GlobalViewPos::head);
  CHECK(parse(R"({"tile_tag": "2D", "global_view_pos": "tail"})") == vision::GlobalViewPos::tail);
  CHECK_THROWS_WITH_AS(parse(R"({"tile_tag": "1D"})"), doctest::Contains("field 'tile_tag'"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"global_view_pos": "head"})"), doctest::Contains("missing field 'tile_tag'"), Error);
  CHECK_THROWS_WITH_AS(parse(R"({"tile_tag": "2D", "global_view_pos": "middle"})"),
                       doctest::Contains("field 'global_view_pos'"), Error);
}

namespace {
// Embeddings whose first element tags the token: 1000 * tile + token + 1; the rest of the row
// repeats it with an offset so that every element is checked.
constexpr std::int64_t kD = 3;
Tensor<float, 3> tagged_tiles(std::int64_t n_tiles, std::int64_t t) {
  Tensor<float, 3> x({n_tiles, t * t, kD});
  for (std::int64_t i = 0; i < n_tiles; ++i)
    for (std::int64_t k = 0; k < t * t; ++k)
      for (std::int64_t d = 0; d < kD; ++d) x(i, k, d) = static_cast<float>(1000 * i + k + 1) + 0.25f * d;
  return x;
}
}  // namespace

TEST_CASE("layout_image_embeddings: newline and separator rows and the tile of every token, 2x3 grid") {
  const std::int64_t t = 3, nw = 3, nh = 2;  // 3x3 tokens per tile, 3 tiles wide, 2 high
  const auto x = tagged_tiles(1 + nw * nh, t);
  Tensor<float, 1> newline({kD}), sep({kD});
  for (std::int64_t d = 0; d < kD; ++d) {
    newline(d) = -1.0f - d;
    sep(d) = -100.0f - d;
  }
  const std::int64_t N = vision::image_token_count(t, nw, nh);
  CHECK(N == 3 * 4 + 1 + 6 * 10);

  // The expected row contents, built from the spec's description.
  std::vector<float> want;  // first element of each row
  for (std::int64_t i = 0; i < t; ++i) {
    for (std::int64_t j = 0; j < t; ++j) want.push_back(static_cast<float>(i * t + j + 1));
    want.push_back(-1.0f);
  }
  const std::size_t global_rows = want.size();
  want.push_back(-100.0f);
  std::vector<float> local;
  for (std::int64_t big = 0; big < t * nh; ++big) {
    for (std::int64_t col = 0; col < t * nw; ++col) {
      const std::int64_t r = big / t, c = col / t, tile = 1 + r * nw + c;
      local.push_back(static_cast<float>(1000 * tile + (big % t) * t + col % t + 1));
    }
    local.push_back(-1.0f);
  }
  want.insert(want.end(), local.begin(), local.end());
  REQUIRE(static_cast<std::int64_t>(want.size()) == N);

  const Tensor<float, 2> out = vision::layout_image_embeddings(x.view(), nw, nh, newline.view(), sep.view());
  REQUIRE(out.shape(0) == N);
  REQUIRE(out.shape(1) == kD);
  for (std::int64_t row = 0; row < N; ++row) {
    CAPTURE(row);
    const float w0 = want[static_cast<std::size_t>(row)];
    for (std::int64_t d = 0; d < kD; ++d) CHECK(out(row, d) == (w0 < 0 ? w0 - d : w0 + 0.25f * d));
  }
  // Spot checks that read as the spec: newline after the last global row, the separator next,
  // then local big row 0 = tiles 1, 2, 3's first token rows; big row 3 starts with tile 4.
  CHECK(out(static_cast<std::int64_t>(global_rows) - 1, 0) == -1.0f);
  CHECK(out(static_cast<std::int64_t>(global_rows), 0) == -100.0f);
  const std::int64_t l0 = static_cast<std::int64_t>(global_rows) + 1;
  CHECK(out(l0 + 0, 0) == 1001.0f);
  CHECK(out(l0 + 3, 0) == 2001.0f);
  CHECK(out(l0 + 6, 0) == 3001.0f);
  CHECK(out(l0 + 9, 0) == -1.0f);
  CHECK(out(l0 + 3 * 10, 0) == 4001.0f);
  CHECK(out(N - 1, 0) == -1.0f);

  // "tail": the local block, the separator, then the global block.
  const Tensor<float, 2> tail =
      vision::layout_image_embeddings(x.view(), nw, nh, newline.view(), sep.view(), vision::GlobalViewPos::tail);
  const std::int64_t L = static_cast<std::int64_t>(local.size());
  for (std::int64_t row = 0; row < L; ++row) CHECK(tail(row, 0) == local[static_cast<std::size_t>(row)]);
  CHECK(tail(L, 0) == -100.0f);
  for (std::int64_t row = 0; row < static_cast<std::int64_t>(global_rows); ++row)
    CHECK(tail(L + 1 + row, 0) == want[static_cast<std::size_t>(row)]);
}

TEST_CASE("layout_image_embeddings names a misshapen input") {
  const auto x = tagged_tiles(7, 3);
  Tensor<float, 1> v({kD}), short_v({kD - 1});
  Tensor<float, 2> out({vision::image_token_count(3, 3, 2), kD});
  CHECK_THROWS_WITH_AS(vision::layout_image_embeddings(x.view(), 2, 2, v.view(), v.view(), out.view()),
                       doctest::Contains("tile_embeds has 7 tiles, expected 1 + 2*2"), Error);
  const Tensor<float, 3> not_square({7, 8, kD});
  CHECK_THROWS_WITH_AS(vision::layout_image_embeddings(not_square.view(), 3, 2, v.view(), v.view(), out.view()),
                       doctest::Contains("expected a square"), Error);
  CHECK_THROWS_WITH_AS(vision::layout_image_embeddings(x.view(), 3, 2, short_v.view(), v.view(), out.view()),
                       doctest::Contains("image_newline"), Error);
  CHECK_THROWS_WITH_AS(vision::layout_image_embeddings(x.view(), 3, 2, v.view(), short_v.view(), out.view()),
                       doctest::Contains("view_seperator"), Error);
  Tensor<float, 2> small({10, kD});
  CHECK_THROWS_WITH_AS(vision::layout_image_embeddings(x.view(), 3, 2, v.view(), v.view(), small.view()),
                       doctest::Contains("out is (10, 3)"), Error);
}

// tools/reference/deepseek_vl2.py kept the official projector output per tile and the
// inputs_embeds that prepare_inputs_embeds built from it: its image rows (images_seq_mask) must be
// the layout of each image's tiles, copied exactly.
TEST_CASE("layout_image_embeddings equals the image rows of the official inputs_embeds (tests/data/deepseek_vl2)") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl2" / "tiny-mha";
  if (!fs::exists(dir / "reference.safetensors")) {
    MESSAGE("skipped: tests/data/deepseek_vl2 not found");
    return;
  }
  const auto config = io::read_json(dir / "config.json");
  const auto pos = vision::parse_global_view_pos(config, "config.json");
  const auto ckpt = io::Checkpoint::open(dir / "model.safetensors");
  const auto newline = ckpt.view<float, 1>("image_newline");
  const auto sep = ckpt.view<float, 1>("view_seperator");
  const test::ReferenceFile ref(dir / "reference.safetensors");
  for (const std::string p : {"tiles", "two", "three"}) {
    CAPTURE(p);
    const auto ps = ref.shape(p + ".projector");
    const auto proj = ref.f32(p + ".projector", ps, ps[0] * ps[1]);
    const auto tiles = proj.view().reshape<3>({ps[0], ps[1], ps[2]});
    const auto crop = ref.i64(p + ".images_spatial_crop");
    const auto es = ref.shape(p + ".inputs_embeds");
    const auto embeds = ref.f32(p + ".inputs_embeds", es, es[0]);
    const auto* mask = reinterpret_cast<const std::uint8_t*>(ref.data(p + ".images_seq_mask", "U8", {es[0]}));
    std::vector<std::int64_t> image_rows;
    for (std::int64_t i = 0; i < es[0]; ++i)
      if (mask[i] != 0) image_rows.push_back(i);
    std::int64_t tile = 0, next = 0, differ = 0;
    for (std::size_t im = 0; im < crop.size() / 2; ++im) {
      const std::int64_t nw = crop[2 * im], nh = crop[2 * im + 1];
      const auto out = vision::layout_image_embeddings(tiles.slice(0, tile, tile + 1 + nw * nh), nw, nh, newline, sep, pos);
      REQUIRE(next + out.shape(0) <= static_cast<std::int64_t>(image_rows.size()));
      for (std::int64_t r = 0; r < out.shape(0); ++r)
        for (std::int64_t d = 0; d < es[1]; ++d)
          differ += out(r, d) != embeds(image_rows[static_cast<std::size_t>(next + r)], d);
      tile += 1 + nw * nh;
      next += out.shape(0);
    }
    CHECK(tile == ps[0]);
    CHECK(next == static_cast<std::int64_t>(image_rows.size()));
    CHECK(differ == 0);
  }
}
