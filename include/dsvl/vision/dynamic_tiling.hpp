#pragma once
// DeepSeek-VL2's dynamic tiling ("anyres"), as DeepseekVLV2Processor does it
// (deepseek_vl2/models/processing_deepseek_vl_v2.py: select_best_resolution, tokenize_with_images,
// ImageTransform; spec 4.4):
//
//  - candidate_resolutions: the (W, H) canvases an image may be tiled on, in the config's order.
//    The tile side S is candidate_resolutions[0][0] (384 for the released models); every
//    candidate must be a multiple of S on both sides.
//  - select_best_resolution(w, h): for each candidate in order, scale = min(W / w, H / h) in double,
//    effective = min(int(w * scale) * int(h * scale), w * h), wasted = W * H - effective; a
//    candidate replaces the best so far when effective is strictly larger, or equal with strictly
//    less waste, so full ties keep the earlier candidate.
//  - cropping: the processor tiles only when the whole request has at most two images; otherwise
//    every image uses the canvas (S, S), i.e. one local tile.
//  - for each image: the global view is ImageOps.pad(image, (S, S)) and the local view
//    ImageOps.pad(image, (W, H)) (bicubic, centred, fill int(mean * 255) = 127 per channel); the
//    local tiles are its S x S crops in row-major order (top row first, left to right);
//    width_tiles = W / S, height_tiles = H / S.
//  - pixel values: every tile (global first, then the locals) through ToTensor and Normalize:
//    x = float32(u8) / 255 in f32, then (x - mean) / std in f32 (with mean = std = 0.5 this is
//    x / 127.5 - 1 up to the last bit of f32) -> (1 + width_tiles * height_tiles, 3, S, S).
//
// Images are RGB [H, W, 3] uint8 (rows top to bottom, channels interleaved), as in
// <dsvl/vision/preprocess.hpp>.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dsvl/core/config.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/vision/pixel_norm.hpp"
#include "dsvl/vision/preprocess.hpp"

namespace dsvl::vision {

// One entry of candidate_resolutions: a canvas of width x height pixels.
struct Resolution {
  std::int64_t width = 0;
  std::int64_t height = 0;
  constexpr bool operator==(const Resolution&) const = default;
};

// The 23 candidates of deepseek-ai/deepseek-vl2-tiny, -small and deepseek-vl2 (processor_config.json
// and config.json), in their order: multiples of 384 with at most 9 local tiles.
inline constexpr std::array<Resolution, 23> kCandidateResolutionsVL2{{
    {384, 384},  {384, 768},  {768, 384},   {384, 1152},  {1152, 384}, {384, 1536},  {1536, 384},  {768, 768},
    {384, 1920}, {1920, 384}, {384, 2304},  {2304, 384},  {768, 1152}, {1152, 768},  {384, 2688},  {2688, 384},
    {384, 3072}, {3072, 384}, {768, 1536},  {1536, 768},  {384, 3456}, {3456, 384},  {1152, 1152},
}};

// A model's candidate_resolutions, checked: not empty, every side a positive multiple of the tile
// side (the first candidate's width).
class CandidateResolutions {
 public:
  // Bounds on a list read from a file (the released models have 23 candidates of at most 9 tiles).
  static constexpr std::size_t kMaxCandidates = 1024;
  static constexpr std::int64_t kMaxTiles = 256;

  explicit CandidateResolutions(std::vector<Resolution> list, const std::string& where = "candidate_resolutions")
      : list_(std::move(list)) {
    if (list_.empty()) fail(where, "the list of candidate resolutions is empty");
    if (list_.size() > kMaxCandidates)
      fail(where, "has ", list_.size(), " candidates, dsvl accepts at most ", kMaxCandidates);
    const std::int64_t S = list_[0].width;
    if (S < 1) fail(where, "the tile size candidate_resolutions[0][0] = ", S, " must be at least 1");
    for (std::size_t i = 0; i < list_.size(); ++i) {
      const Resolution r = list_[i];
      config::check_range(r.width, config::kPixels, where, "candidate " + std::to_string(i) + " width");
      config::check_range(r.height, config::kPixels, where, "candidate " + std::to_string(i) + " height");
      if (r.width < S || r.height < S || r.width % S != 0 || r.height % S != 0)
        fail(where, "candidate ", i, " (", r.width, ", ", r.height, ") is not a multiple of the tile size ", S,
             " on both sides");
      if ((r.width / S) * (r.height / S) > kMaxTiles)
        fail(where, "candidate ", i, " (", r.width, ", ", r.height, ") has ", (r.width / S) * (r.height / S),
             " tiles, dsvl accepts at most ", kMaxTiles);
    }
  }
  explicit CandidateResolutions(std::span<const Resolution> list)
      : CandidateResolutions(std::vector<Resolution>(list.begin(), list.end())) {}

  std::span<const Resolution> list() const noexcept { return list_; }
  // S, the side of every tile: candidate_resolutions[0][0].
  std::int64_t tile_size() const noexcept { return list_[0].width; }
  bool operator==(const CandidateResolutions&) const = default;

 private:
  std::vector<Resolution> list_;
};

// Reads the field 'candidate_resolutions' ([[W, H], ...]) of a VL2 config.json or
// processor_config.json. Errors name `where` and the field.
inline CandidateResolutions parse_candidate_resolutions(const nlohmann::json& config, const std::string& where) {
  const auto raw = io::json_get<std::vector<std::vector<std::int64_t>>>(config, "candidate_resolutions", where);
  std::vector<Resolution> list;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i].size() != 2)
      fail(where, "field 'candidate_resolutions/", i, "' has ", raw[i].size(), " values, expected [width, height]");
    list.push_back({raw[i][0], raw[i][1]});
  }
  return CandidateResolutions(std::move(list), where + ": field 'candidate_resolutions'");
}

// The image side of DeepseekVLV2Processor (processor_config.json).
struct VL2ImageProcessorConfig {
  CandidateResolutions candidate_resolutions{kCandidateResolutionsVL2};
  std::int64_t patch_size = 14;
  std::int64_t downsample_ratio = 2;
  std::array<double, 3> image_mean{0.5, 0.5, 0.5};
  std::array<double, 3> image_std{0.5, 0.5, 0.5};
  bool normalize = true;

  std::int64_t tile_size() const noexcept { return candidate_resolutions.tile_size(); }
  // The pad colour of both views: int(mean * 255) per channel.
  std::array<std::uint8_t, 3> background_color() const noexcept {
    std::array<std::uint8_t, 3> c{};
    for (std::size_t i = 0; i < 3; ++i) c[i] = static_cast<std::uint8_t>(static_cast<int>(image_mean[i] * 255));
    return c;
  }
  bool operator==(const VL2ImageProcessorConfig&) const = default;
};

// Reads processor_config.json: candidate_resolutions, patch_size and downsample_ratio are
// required (the processor has no defaults for them); image_mean, image_std and normalize default
// to 0.5, 0.5 and true. Errors name `where` and the field.
inline VL2ImageProcessorConfig parse_vl2_image_processor_config(const nlohmann::json& j, const std::string& where) {
  VL2ImageProcessorConfig c;
  c.candidate_resolutions = parse_candidate_resolutions(j, where);
  c.patch_size = io::json_get<std::int64_t>(j, "patch_size", where);
  c.downsample_ratio = io::json_get<std::int64_t>(j, "downsample_ratio", where);
  config::check_range(c.patch_size, config::kPixels, where, "patch_size");
  config::check_range(c.downsample_ratio, config::kRatios, where, "downsample_ratio");
  if (c.patch_size < 1) fail(where, "field 'patch_size' is ", c.patch_size, ", expected at least 1");
  if (c.downsample_ratio < 1) fail(where, "field 'downsample_ratio' is ", c.downsample_ratio, ", expected at least 1");
  const auto triple = [&](const char* key, std::array<double, 3> fallback) {
    const auto v = io::json_get_or<std::vector<double>>(j, key, {fallback.begin(), fallback.end()}, where);
    if (v.size() != 3) fail(where, "field '", key, "' has ", v.size(), " values, expected 3");
    for (std::size_t i = 0; i < 3; ++i)
      if (!(v[i] >= 0.0 && v[i] <= 1.0)) fail(where, "field '", key, "/", i, "' = ", v[i], " is outside [0, 1]");
    return std::array<double, 3>{v[0], v[1], v[2]};
  };
  c.image_mean = triple("image_mean", c.image_mean);
  c.image_std = triple("image_std", c.image_std);
  c.normalize = io::json_get_or<bool>(j, "normalize", c.normalize, where);
  if (c.normalize)
    for (std::size_t i = 0; i < 3; ++i)
      if (c.image_std[i] == 0.0) fail(where, "field 'image_std/", i, "' is 0");
  return c;
}

inline VL2ImageProcessorConfig read_vl2_image_processor_config(const std::filesystem::path& file) {
  return parse_vl2_image_processor_config(io::read_json(file), file.string());
}

// The candidate (W, H) for a width x height image (see the header comment). `candidates` must not
// be empty; the image must be at least 1 x 1.
inline Resolution select_best_resolution(std::int64_t width, std::int64_t height,
                                         std::span<const Resolution> candidates) {
  constexpr const char* where = "vision::select_best_resolution";
  DSVL_CHECK(width >= 1 && height >= 1, where, "the image is empty (", width, "x", height, ")");
  DSVL_CHECK(!candidates.empty(), where, "the list of candidate resolutions is empty");
  const double w = static_cast<double>(width), h = static_cast<double>(height);
  Resolution best{};
  std::int64_t max_effective = 0, min_wasted = 0;
  bool have_best = false;  // min_wasted is +inf until the first candidate
  for (const Resolution& c : candidates) {
    const double scale = std::min(static_cast<double>(c.width) / w, static_cast<double>(c.height) / h);
    const auto dw = static_cast<std::int64_t>(w * scale), dh = static_cast<std::int64_t>(h * scale);
    const std::int64_t effective = std::min(dw * dh, width * height);
    const std::int64_t wasted = c.width * c.height - effective;
    if (effective > max_effective || (effective == max_effective && (!have_best || wasted < min_wasted))) {
      max_effective = effective;
      min_wasted = wasted;
      best = c;
      have_best = true;
    }
  }
  return best;
}

// The processor's cropping switch: tiling is on only when the request has at most two images.
constexpr bool cropping_enabled(std::size_t images_in_request) noexcept { return images_in_request <= 2; }

// The canvas of the local view: select_best_resolution when cropping, else (S, S).
inline Resolution local_view_resolution(std::int64_t width, std::int64_t height, const CandidateResolutions& candidates,
                                        bool cropping) {
  if (cropping) return select_best_resolution(width, height, candidates.list());
  DSVL_CHECK(width >= 1 && height >= 1, "vision::local_view_resolution", "the image is empty (", width, "x", height,
             ")");
  return {candidates.tile_size(), candidates.tile_size()};
}

// One image's views: the global view [S, S, 3] and the local view [H, W, 3] whose S x S crops are
// the local tiles, tile (r, c) (r < height_tiles, c < width_tiles) at rows r*S.. and columns c*S...
struct ImageTiles {
  Tensor<std::uint8_t, 3> global_view;
  Tensor<std::uint8_t, 3> local_view;
  std::int64_t tile_size = 0;
  std::int64_t width_tiles = 0;
  std::int64_t height_tiles = 0;

  // 1 + width_tiles * height_tiles: the global view, then the local tiles.
  std::int64_t num_tiles() const noexcept { return 1 + width_tiles * height_tiles; }
  // Local tile (r, c), a view into local_view.
  View<const std::uint8_t, 3> local_tile(std::int64_t r, std::int64_t c) const {
    DSVL_CHECK(0 <= r && r < height_tiles && 0 <= c && c < width_tiles, "vision::ImageTiles::local_tile", "tile (", r,
               ", ", c, ") is outside the ", height_tiles, "x", width_tiles, " grid");
    const std::int64_t S = tile_size;
    return local_view.view().slice(0, r * S, (r + 1) * S).slice(1, c * S, (c + 1) * S);
  }
  // Tile i in processor order: 0 is the global view, 1 + r * width_tiles + c local tile (r, c).
  View<const std::uint8_t, 3> tile(std::int64_t i) const {
    DSVL_CHECK(0 <= i && i < num_tiles(), "vision::ImageTiles::tile", "tile ", i, " of ", num_tiles());
    if (i == 0) return global_view.view();
    return local_tile((i - 1) / width_tiles, (i - 1) % width_tiles);
  }
};

// The global and local views of one RGB image [h, w, 3] (see the header comment); `cropping` is
// cropping_enabled(number of images in the request).
inline ImageTiles tile_image(View<const std::uint8_t, 3> rgb, const VL2ImageProcessorConfig& cfg, bool cropping,
                             PillowVersion version = kDefaultPillowVersion, ThreadPool& pool = ThreadPool::global()) {
  constexpr const char* where = "vision::tile_image";
  DSVL_CHECK(rgb.shape(0) >= 1 && rgb.shape(1) >= 1, where, "the image is empty (", rgb.shape(1), "x", rgb.shape(0),
             ")");
  DSVL_CHECK(rgb.shape(2) == 3, where, "the image has ", rgb.shape(2), " channels, expected RGB");
  const std::int64_t S = cfg.tile_size();
  const Resolution best = local_view_resolution(rgb.shape(1), rgb.shape(0), cfg.candidate_resolutions, cropping);
  const std::array<std::uint8_t, 3> fill = cfg.background_color();
  ImageTiles t;
  t.tile_size = S;
  t.width_tiles = best.width / S;
  t.height_tiles = best.height / S;
  t.global_view = contain_and_pad(rgb, S, S, fill, {0.5, 0.5}, version, pool);
  // ImageOps.pad to the same size gives the same bytes: reuse the global view.
  t.local_view = best == Resolution{S, S} ? t.global_view.clone()
                                          : contain_and_pad(rgb, best.height, best.width, fill, {0.5, 0.5}, version, pool);
  return t;
}

// ToTensor and Normalize of every tile, in processor order, into `out` (num_tiles, 3, S, S) f32.
inline void tile_pixel_values(const ImageTiles& tiles, const VL2ImageProcessorConfig& cfg, View<float, 4> out) {
  constexpr const char* where = "vision::tile_pixel_values";
  const std::int64_t S = tiles.tile_size, n = tiles.num_tiles();
  DSVL_CHECK(out.shape(0) == n && out.shape(1) == 3 && out.shape(2) == S && out.shape(3) == S, where, "out is (",
             out.shape(0), ", ", out.shape(1), ", ", out.shape(2), ", ", out.shape(3), "), expected (", n, ", 3, ", S,
             ", ", S, ")");
  const PixelNorm norm = cfg.normalize ? PixelNorm{cfg.image_mean, cfg.image_std} : PixelNorm{};
  for (std::int64_t i = 0; i < n; ++i) to_pixel_values(tiles.tile(i), norm, out[i]);
}

inline Tensor<float, 4> tile_pixel_values(const ImageTiles& tiles, const VL2ImageProcessorConfig& cfg) {
  Tensor<float, 4> out({tiles.num_tiles(), 3, tiles.tile_size, tiles.tile_size});
  tile_pixel_values(tiles, cfg, out.view());
  return out;
}

}  // namespace dsvl::vision
