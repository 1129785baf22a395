#pragma once
// DeepSeek-OCR's tiling of a large page (Gundam mode; process/image_process.py, count_tiles and
// dynamic_preprocess, InternVL's closest-aspect-ratio rule):
//
//   candidates  every grid (i, j) = (width_tiles, height_tiles) with 2 <= i*j <= max_tiles, in the
//               official order: the Python set of them sorted (stably) by i*j, so that grids of
//               equal area come in CPython's set order (kAspectRatioGrids, written out below)
//   choice      the grid whose ratio i/j is closest to the page's width/height; on an exact tie a
//               later candidate replaces the chosen one only when the page's area exceeds half the
//               later grid's area in tiles of image_size (the official rule, which does not
//               compare against the chosen grid's area)
//   tiles       the page resized (Pillow bicubic, stretched, aspect ratio not kept) to
//               (image_size*i, image_size*j) and cut into i*j tiles of image_size, row-major.
// The processor tiles only a page with a side over 640 pixels (the official constant).

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/vision/preprocess.hpp"

namespace dsvl::vision {

struct TileGrid {
  std::int64_t width_tiles = 0, height_tiles = 0;
  bool operator==(const TileGrid&) const = default;
};

// The candidate grids for max_tiles = 2 .. 9 in the official order (generated with CPython 3.11
// from the official expression; tuple hashes of small ints do not depend on the run).
inline constexpr std::int64_t kMinTiles = 2, kMaxTiles = 9;
inline std::span<const TileGrid> aspect_ratio_grids(std::int64_t max_tiles) {
  static const std::vector<TileGrid> grids[] = {
      {{1, 2}, {2, 1}},
      {{1, 2}, {2, 1}, {3, 1}, {1, 3}},
      {{1, 2}, {2, 1}, {3, 1}, {1, 3}, {4, 1}, {1, 4}, {2, 2}},
      {{1, 2}, {2, 1}, {3, 1}, {1, 3}, {4, 1}, {1, 4}, {2, 2}, {1, 5}, {5, 1}},
      {{1, 2}, {2, 1}, {3, 1}, {1, 3}, {4, 1}, {1, 4}, {2, 2}, {1, 5}, {5, 1}, {6, 1}, {2, 3}, {1, 6}, {3, 2}},
      {{1, 2}, {2, 1}, {3, 1}, {1, 3}, {4, 1}, {1, 4}, {2, 2}, {1, 5}, {5, 1}, {6, 1}, {2, 3}, {1, 6}, {3, 2}, {7, 1},
       {1, 7}},
      {{1, 2}, {2, 1}, {3, 1}, {1, 3}, {2, 2}, {4, 1}, {1, 4}, {5, 1}, {1, 5}, {1, 6}, {6, 1}, {3, 2}, {2, 3}, {7, 1},
       {1, 7}, {4, 2}, {2, 4}, {1, 8}, {8, 1}},
      {{1, 2}, {2, 1}, {3, 1}, {1, 3}, {2, 2}, {4, 1}, {1, 4}, {5, 1}, {1, 5}, {1, 6}, {6, 1}, {3, 2}, {2, 3}, {7, 1},
       {1, 7}, {4, 2}, {2, 4}, {1, 8}, {8, 1}, {1, 9}, {3, 3}, {9, 1}},
  };
  DSVL_CHECK(max_tiles >= kMinTiles && max_tiles <= kMaxTiles, "vision::aspect_ratio_grids", "max_tiles is ",
             max_tiles, ", expected ", kMinTiles, " to ", kMaxTiles);
  return grids[max_tiles - kMinTiles];
}

// The grid for a width x height page with tiles of image_size (find_closest_aspect_ratio).
inline TileGrid closest_aspect_ratio_grid(std::int64_t width, std::int64_t height, std::int64_t image_size,
                                          std::int64_t max_tiles) {
  DSVL_CHECK(width >= 1 && height >= 1 && image_size >= 1, "vision::closest_aspect_ratio_grid", "the page is ", width,
             "x", height, " with tiles of ", image_size, "; every size must be at least 1");
  const double aspect = static_cast<double>(width) / static_cast<double>(height);
  const double area = static_cast<double>(width) * static_cast<double>(height);
  double best_diff = INFINITY;
  TileGrid best{1, 1};
  for (const TileGrid& g : aspect_ratio_grids(max_tiles)) {
    const double diff = std::abs(aspect - static_cast<double>(g.width_tiles) / static_cast<double>(g.height_tiles));
    if (diff < best_diff) {
      best_diff = diff;
      best = g;
    } else if (diff == best_diff &&
               area > 0.5 * static_cast<double>(image_size) * static_cast<double>(image_size) *
                          static_cast<double>(g.width_tiles * g.height_tiles)) {
      best = g;
    }
  }
  return best;
}

// The page [h, w, 3] resized to the grid and cut: tiles (i*j, image_size, image_size, 3), row-major.
inline Tensor<std::uint8_t, 4> cut_tiles(View<const std::uint8_t, 3> page, TileGrid grid, std::int64_t image_size,
                                         PillowVersion version = kDefaultPillowVersion,
                                         ThreadPool& pool = ThreadPool::global()) {
  const std::int64_t S = image_size, nw = grid.width_tiles, nh = grid.height_tiles, C = page.shape(2);
  const Tensor<std::uint8_t, 3> resized = resize_bicubic(page, S * nh, S * nw, version, pool);
  Tensor<std::uint8_t, 4> tiles({nw * nh, S, S, C});
  for (std::int64_t t = 0; t < nw * nh; ++t) {
    const std::int64_t y0 = (t / nw) * S, x0 = (t % nw) * S;
    for (std::int64_t y = 0; y < S; ++y) std::copy_n(&resized(y0 + y, x0, 0), S * C, &tiles(t, y, 0, 0));
  }
  return tiles;
}

}  // namespace dsvl::vision
