#pragma once
// DeepSeek-VL2's image token layout: how one image's projected tiles become rows of the language
// model's input, as DeepseekVLV2ForCausalLM.prepare_inputs_embeds does it with tile_tag "2D"
// (deepseek_vl2/models/modeling_deepseek_vl_v2.py), and the number of <image> tokens that
// DeepseekVLV2Processor.tokenize_with_images reserves for it (processing_deepseek_vl_v2.py; spec 4.5).
//
// With t tokens per tile side (t = ceil((S // patch_size) / downsample_ratio), 14 for the released
// models) and width_tiles x height_tiles local tiles (nw x nh):
//   global block  the global tile's t x t tokens as t rows, each followed by image_newline
//   separator     view_seperator (the checkpoint's spelling)
//   local block   the local tiles as one (t*nh) x (t*nw) grid, tile (r, c) (list index r*nw + c) at
//                 rows r*t.. and columns c*t..; each of the t*nh big rows followed by image_newline
// global_view_pos "head" gives [global][separator][local] (all released models), "tail"
// [local][separator][global]. The count is
//   N(nw, nh) = t*(t + 1) + 1 + (t*nh) * (t*nw + 1)          (t = 14: 211 + 14*nh*(14*nw + 1)).
// The "1D" tile_tag (tile_indicators) is abandoned in the official code and not supported.

#include <algorithm>
#include <cstdint>
#include <string>

#include "dsvl/core/error.hpp"
#include "dsvl/core/square_side.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/json.hpp"

namespace dsvl::vision {

// t: tokens per tile side after the projector's downsampling, ceil((tile_size // patch_size) /
// downsample_ratio) as the processor computes it.
constexpr std::int64_t tokens_per_tile_side(std::int64_t tile_size, std::int64_t patch_size,
                                            std::int64_t downsample_ratio) {
  DSVL_CHECK(tile_size >= 1 && patch_size >= 1 && downsample_ratio >= 1, "vision::tokens_per_tile_side",
             "tile_size ", tile_size, ", patch_size ", patch_size, " and downsample_ratio ", downsample_ratio,
             " must be at least 1");
  const std::int64_t patches = tile_size / patch_size;
  return (patches + downsample_ratio - 1) / downsample_ratio;
}

// N: the number of <image> tokens (and of embedding rows) of an image of width_tiles x height_tiles
// local tiles, with t tokens per tile side.
constexpr std::int64_t image_token_count(std::int64_t t, std::int64_t width_tiles, std::int64_t height_tiles) {
  DSVL_CHECK(t >= 1 && width_tiles >= 1 && height_tiles >= 1, "vision::image_token_count", "t = ", t,
             ", width_tiles = ", width_tiles, " and height_tiles = ", height_tiles, " must be at least 1");
  return t * (t + 1) + 1 + (t * height_tiles) * (t * width_tiles + 1);
}

enum class GlobalViewPos : std::uint8_t { head, tail };

// The layout fields of a VL2 config.json: tile_tag (must be "2D") and global_view_pos (default
// "head", the DeepseekVLV2Config default). Errors name `where` and the field.
inline GlobalViewPos parse_global_view_pos(const nlohmann::json& config, const std::string& where) {
  const auto tag = io::json_get<std::string>(config, "tile_tag", where);
  if (tag != "2D") fail(where, "field 'tile_tag' is \"", tag, "\", expected \"2D\" (\"1D\" is not supported)");
  const auto pos = io::json_get_or<std::string>(config, "global_view_pos", "head", where);
  if (pos == "head") return GlobalViewPos::head;
  if (pos == "tail") return GlobalViewPos::tail;
  fail(where, "field 'global_view_pos' is \"", pos, "\", expected \"head\" or \"tail\"");
}

// Writes one image's N rows into `out` (N, D). tile_embeds (1 + nw*nh, t*t, D): the projector's
// output for the image's tiles, the global tile first, then the local tiles row-major; t is the
// square root of the middle extent. image_newline and view_seperator: (D).
inline void layout_image_embeddings(View<const float, 3> tile_embeds, std::int64_t width_tiles,
                                    std::int64_t height_tiles, View<const float, 1> image_newline,
                                    View<const float, 1> view_seperator, View<float, 2> out,
                                    GlobalViewPos global_view_pos = GlobalViewPos::head) {
  constexpr const char* where = "vision::layout_image_embeddings";
  DSVL_CHECK(width_tiles >= 1 && height_tiles >= 1, where, "width_tiles = ", width_tiles, " and height_tiles = ",
             height_tiles, " must be at least 1");
  const std::int64_t nw = width_tiles, nh = height_tiles, D = tile_embeds.shape(2), hw = tile_embeds.shape(1);
  const std::int64_t t = square_side(hw);  // the official int(hw ** 0.5), for a square hw
  DSVL_CHECK(t >= 1, where, "tile_embeds has ", hw, " tokens per tile, expected a square t*t");
  DSVL_CHECK(tile_embeds.shape(0) == 1 + nw * nh, where, "tile_embeds has ", tile_embeds.shape(0), " tiles, expected 1 + ",
             nw, "*", nh, " = ", 1 + nw * nh);
  DSVL_CHECK(tile_embeds.inner_contiguous(), where, "tile_embeds must have a contiguous last dimension");
  DSVL_CHECK(image_newline.shape(0) == D && image_newline.inner_contiguous(), where, "image_newline has ",
             image_newline.shape(0), " elements, expected D = ", D);
  DSVL_CHECK(view_seperator.shape(0) == D && view_seperator.inner_contiguous(), where, "view_seperator has ",
             view_seperator.shape(0), " elements, expected D = ", D);
  const std::int64_t N = image_token_count(t, nw, nh);
  DSVL_CHECK(out.shape(0) == N && out.shape(1) == D && out.inner_contiguous(), where, "out is (", out.shape(0), ", ",
             out.shape(1), "), expected (N, D) = (", N, ", ", D, ") with a contiguous last dimension");

  const auto put = [&](std::int64_t row, const float* src) { std::copy_n(src, D, &out(row, 0)); };
  const std::int64_t global_rows = t * (t + 1), local_rows = (t * nh) * (t * nw + 1);
  const bool head = global_view_pos == GlobalViewPos::head;
  std::int64_t row = head ? 0 : local_rows + 1;
  for (std::int64_t i = 0; i < t; ++i) {  // global block
    for (std::int64_t j = 0; j < t; ++j) put(row++, &tile_embeds(0, i * t + j, 0));
    put(row++, image_newline.data());
  }
  put(head ? global_rows : local_rows, view_seperator.data());
  row = head ? global_rows + 1 : 0;
  for (std::int64_t r = 0; r < nh; ++r)  // local block, big row r*t + i
    for (std::int64_t i = 0; i < t; ++i) {
      for (std::int64_t c = 0; c < nw; ++c)
        for (std::int64_t j = 0; j < t; ++j) put(row++, &tile_embeds(1 + r * nw + c, i * t + j, 0));
      put(row++, image_newline.data());
    }
}

inline Tensor<float, 2> layout_image_embeddings(View<const float, 3> tile_embeds, std::int64_t width_tiles,
                                                std::int64_t height_tiles, View<const float, 1> image_newline,
                                                View<const float, 1> view_seperator,
                                                GlobalViewPos global_view_pos = GlobalViewPos::head) {
  const std::int64_t t = square_side(tile_embeds.shape(1));
  const std::int64_t rows =
      t >= 1 && width_tiles >= 1 && height_tiles >= 1 ? image_token_count(t, width_tiles, height_tiles) : 0;
  Tensor<float, 2> out({rows, tile_embeds.shape(2)});
  layout_image_embeddings(tile_embeds, width_tiles, height_tiles, image_newline, view_seperator, out.view(),
                          global_view_pos);
  return out;
}

}  // namespace dsvl::vision
