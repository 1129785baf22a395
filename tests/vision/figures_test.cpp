// Figure crops of DeepSeek-OCR documents, written as PNG files (include/dsvl/vision/figures.hpp).
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dsvl/core/tensor.hpp"
#include "dsvl/io/image.hpp"
#include "dsvl/language/document.hpp"
#include "dsvl/vision/figures.hpp"

using namespace dsvl;
namespace fs = std::filesystem;

namespace {

// A W x H page whose pixel (x, y) is (x, y, 7).
Tensor<std::uint8_t, 3> page(std::int64_t w, std::int64_t h) {
  Tensor<std::uint8_t, 3> t({h, w, 3});
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      t(y, x, 0) = static_cast<std::uint8_t>(x);
      t(y, x, 1) = static_cast<std::uint8_t>(y);
      t(y, x, 2) = 7;
    }
  return t;
}

bool same_pixels(View<const std::uint8_t, 3> a, View<const std::uint8_t, 3> b) {
  if (a.shape() != b.shape()) return false;
  for (std::int64_t y = 0; y < a.shape(0); ++y)
    for (std::int64_t x = 0; x < a.shape(1); ++x)
      for (std::int64_t c = 0; c < 3; ++c)
        if (a(y, x, c) != b(y, x, c)) return false;
  return true;
}

// Two figure boxes, a text block, and a figure box of zero size at the page's right edge.
constexpr const char* kAnswer =
    "<|ref|>image<|/ref|><|det|>[[0,0,499,499],[500,500,999,999]]<|/det|>\n"
    "<|ref|>text<|/ref|><|det|>[[0,0,999,999]]<|/det|>\nx\n"
    "<|ref|>image<|/ref|><|det|>[[999,0,999,10]]<|/det|>";

struct TempFolder {
  fs::path path = fs::temp_directory_path() / ("dsvl_figures_test_" + std::to_string(::getpid()));
  TempFolder() { fs::remove_all(path); }
  ~TempFolder() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("figure_crops: each figure box of the page, as PIL crops it; empty boxes widened to a pixel") {
  const auto p = page(40, 30);
  const auto doc = language::parse_document(kAnswer, 40, 30);
  REQUIRE(doc.figure_count() == 3);
  const auto crops = vision::figure_crops(p.view(), doc);
  REQUIRE(crops.size() == 3);
  // int(499 / 999 * 40) = 19, int(499 / 999 * 30) = 14; int(500 / 999 * 40) = 20, int(500 / 999 * 30) = 15.
  CHECK(crops[0].shape() == View<const std::uint8_t, 3>::Shape{14, 19, 3});
  CHECK(crops[1].shape() == View<const std::uint8_t, 3>::Shape{15, 20, 3});
  CHECK(crops[1](0, 0, 0) == 20);
  CHECK(crops[1](0, 0, 1) == 15);
  CHECK(crops[1](14, 19, 0) == 39);
  // [40, 0, 40, 0] in pixels: the last column's first pixel.
  CHECK(crops[2].shape() == View<const std::uint8_t, 3>::Shape{1, 1, 3});
  CHECK(crops[2](0, 0, 0) == 39);
  CHECK(crops[2](0, 0, 1) == 0);

  CHECK_THROWS_AS(vision::figure_crops(page(41, 30).view(), doc), dsvl::Error);
}

TEST_CASE("write_figures: PNG files <prefix>N.png that read back as the crops") {
  TempFolder tmp;
  const auto p = page(40, 30);
  const auto doc = language::parse_document(kAnswer, 40, 30);
  const fs::path folder = tmp.path / "images";
  const auto files = vision::write_figures(p.view(), doc, folder, "2_", {});
  REQUIRE(files.size() == 3);
  CHECK(files[0] == folder / "2_0.png");
  CHECK(files[2] == folder / "2_2.png");
  const auto crops = vision::figure_crops(p.view(), doc);
  for (std::size_t n = 0; n < files.size(); ++n) {
    const auto back = io::read_image(files[n]);
    CHECK(same_pixels(back.view(), crops[n]));
  }
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(folder)) ++entries;
  CHECK(entries == 3);  // no temporaries left

  // A page without figures writes nothing and makes no folder.
  const auto none = language::parse_document("<|ref|>text<|/ref|><|det|>[[0,0,9,9]]<|/det|>", 40, 30);
  CHECK(vision::write_figures(p.view(), none, tmp.path / "none", "", {}).empty());
  CHECK_FALSE(fs::exists(tmp.path / "none"));
}

TEST_CASE("write_figures: a crop that would replace an input is refused before anything is written") {
  TempFolder tmp;
  const auto p = page(40, 30);
  const auto doc = language::parse_document(kAnswer, 40, 30);
  fs::create_directories(tmp.path);
  const fs::path input = tmp.path / "2.png";
  io::write_png(input, p.view());
  const std::vector<fs::path> inputs{input};
  CHECK_THROWS_WITH_AS(vision::write_figures(p.view(), doc, tmp.path, "", inputs),
                       doctest::Contains("is an input of this run"), dsvl::Error);
  CHECK_FALSE(fs::exists(tmp.path / "0.png"));
  CHECK(same_pixels(io::read_image(input).view(), p.view()));
  // A file in the folder's place.
  std::ofstream(tmp.path / "file") << "x";
  CHECK_THROWS_WITH_AS(vision::write_figures(p.view(), doc, tmp.path / "file", "", {}),
                       doctest::Contains("cannot make the figure folder"), dsvl::Error);
}
