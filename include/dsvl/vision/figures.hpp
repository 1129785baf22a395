#pragma once
// The figures of a DeepSeek-OCR page: the boxes of its blocks labelled "image"
// (language::Document) cut out of the page and written as PNG files, where the official
// run_dpsk_ocr_image.py saves images/N.jpg.
//
//   auto page = dsvl::io::read_image(path);
//   auto doc = dsvl::language::parse_document(answer, int(page.shape(1)), int(page.shape(0)));
//   auto files = dsvl::vision::write_figures(page.view(), doc, "out/images", "", {path});
//   // files: out/images/0.png, out/images/1.png, ... (links for language::render_markdown)
//
// A crop is the box's pixels [x1, x2) x [y1, y2) of the page, as PIL's Image.crop takes them. A box
// less than a pixel wide or high is widened to one pixel inside the page, so that each figure box
// has a picture (PIL crops it to an empty image, which the official script fails to save).
//
// Needs dsvl::image (libpng).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/image.hpp"
#include "dsvl/io/output.hpp"
#include "dsvl/language/document.hpp"

namespace dsvl::vision {

// The figure boxes of `doc` (Document::figure_count() of them, in order) as views into `page`, an
// RGB8 image [H, W, 3] of the size given to parse_document. Errors: another page size.
inline std::vector<View<const std::uint8_t, 3>> figure_crops(View<const std::uint8_t, 3> page,
                                                             const language::Document& doc) {
  DSVL_CHECK(page.shape(0) == doc.height && page.shape(1) == doc.width && page.shape(2) == 3, "vision::figure_crops",
             "the page is [", page.shape(0), ", ", page.shape(1), ", ", page.shape(2), "], the document's is [",
             doc.height, ", ", doc.width, ", 3]");
  const auto span = [](std::int64_t lo, std::int64_t hi, std::int64_t side) {
    if (hi > lo) return std::pair{lo, hi};
    lo = std::min(lo, side - 1);
    return std::pair{lo, lo + 1};
  };
  std::vector<View<const std::uint8_t, 3>> crops;
  for (const auto& block : doc.blocks) {
    if (!block.is_figure()) continue;
    for (const auto& b : block.boxes) {
      const auto [x1, x2] = span(b.pixels.x1, b.pixels.x2, doc.width);
      const auto [y1, y2] = span(b.pixels.y1, b.pixels.y2, doc.height);
      crops.push_back(page.slice(0, y1, y2).slice(1, x1, x2));
    }
  }
  return crops;
}

// Writes the figure crops of `doc` to `folder` (made if absent) as <prefix><N>.png, N from 0 in
// order, each file atomically (io::write_png), and returns their paths. Before anything is
// written, a file that would replace one of `inputs` is refused (io::refuse_input). Files of an
// earlier run beyond the last N are left as they are. Errors: another page size, a folder that
// cannot be made, a write error.
inline std::vector<std::filesystem::path> write_figures(View<const std::uint8_t, 3> page, const language::Document& doc,
                                                        const std::filesystem::path& folder, std::string_view prefix,
                                                        std::span<const std::filesystem::path> inputs) {
  const auto crops = figure_crops(page, doc);
  std::vector<std::filesystem::path> files;
  for (std::size_t n = 0; n < crops.size(); ++n) {
    files.push_back(folder / (std::string(prefix) + std::to_string(n) + ".png"));
    io::refuse_input(files.back(), inputs, "a figure file");
  }
  if (crops.empty()) return files;
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) fail(folder.string(), "cannot make the figure folder: ", ec.message());
  for (std::size_t n = 0; n < crops.size(); ++n) io::write_png(files[n], crops[n]);
  return files;
}

}  // namespace dsvl::vision
