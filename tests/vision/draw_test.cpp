// Drawing boxes, text and grounding results on RGB8 images (include/dsvl/vision/draw.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "dsvl/core/tensor.hpp"
#include "dsvl/language/document.hpp"
#include "dsvl/language/grounding.hpp"
#include "dsvl/vision/draw.hpp"

using namespace dsvl;
using dsvl::language::Box;
using dsvl::vision::Rgb;

namespace {

constexpr Rgb kRed{255, 0, 0};
constexpr std::uint8_t kBackground = 7;
constexpr std::uint8_t kGuard = 99;

// An H x W canvas inside a buffer with a `g`-pixel guard frame: drawing must never reach the frame.
struct Canvas {
  std::int64_t h, w, g;
  Tensor<std::uint8_t, 3> buffer;
  Canvas(std::int64_t h_, std::int64_t w_, std::int64_t g_ = 8) : h(h_), w(w_), g(g_), buffer({h_ + 2 * g_, w_ + 2 * g_, 3}) {
    std::fill(buffer.data(), buffer.data() + buffer.size(), kGuard);
    auto v = view();
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) v(y, x, c) = kBackground;
  }
  // A strided view of the canvas (rows are w + 2g pixels apart).
  View<std::uint8_t, 3> view() { return buffer.view().slice(0, g, g + h).slice(1, g, g + w); }
  Rgb at(std::int64_t x, std::int64_t y) {
    auto v = view();
    return {v(y, x, 0), v(y, x, 1), v(y, x, 2)};
  }
  bool background(std::int64_t x, std::int64_t y) { return at(x, y) == Rgb{kBackground, kBackground, kBackground}; }
  bool guard_intact() const {
    const std::int64_t W = w + 2 * g, H = h + 2 * g;
    for (std::int64_t y = 0; y < H; ++y)
      for (std::int64_t x = 0; x < W; ++x) {
        if (y >= g && y < g + h && x >= g && x < g + w) continue;
        for (int c = 0; c < 3; ++c)
          if (buffer(y, x, c) != kGuard) return false;
      }
    return true;
  }
  std::int64_t count(Rgb colour) {
    std::int64_t n = 0;
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) n += at(x, y) == colour;
    return n;
  }
};

}  // namespace

TEST_CASE("draw_box: the outline lies on the box's edges, the interior and outside stay untouched") {
  Canvas cv(40, 50);
  vision::draw_box(cv.view(), Box{10, 5, 30, 25}, kRed, 2);
  for (std::int64_t y = 0; y < cv.h; ++y) {
    for (std::int64_t x = 0; x < cv.w; ++x) {
      const bool inside = x >= 10 && x < 30 && y >= 5 && y < 25;
      const bool edge = inside && (x < 12 || x >= 28 || y < 7 || y >= 23);
      CAPTURE(x);
      CAPTURE(y);
      if (edge) REQUIRE(cv.at(x, y) == kRed);
      else REQUIRE(cv.background(x, y));
    }
  }
  CHECK(cv.count(kRed) == 20 * 20 - 16 * 16);
  CHECK(cv.guard_intact());
}

TEST_CASE("draw_box: boxes partly or wholly outside the image are clipped") {
  Canvas cv(20, 30);
  vision::draw_box(cv.view(), Box{-10, -10, 10, 10}, kRed, 3);         // top-left corner outside
  vision::draw_box(cv.view(), Box{25, 15, 1000, 1000}, kRed, 3);       // bottom-right outside
  vision::draw_box(cv.view(), Box{-1000, -1000, 5000, 5000}, kRed, 1);  // around the whole image
  vision::draw_box(cv.view(), Box{100, 100, 200, 200}, kRed, 1);        // wholly outside
  vision::draw_box(cv.view(), Box{0, 0, 30, 20}, kRed, 1);              // the whole image: its border
  CHECK(cv.guard_intact());
  CHECK(cv.at(9, 0) == kRed);   // right edge of the first box
  CHECK(cv.at(0, 9) == kRed);   // its bottom edge
  CHECK(cv.background(5, 5));   // its interior
  CHECK(cv.at(25, 19) == kRed); // the second box's left edge, down to the image's last row
  CHECK(cv.at(29, 19) == kRed);
  CHECK(cv.at(29, 10) == kRed);  // the whole-image box's right edge (x2 = W) is visible
  CHECK(cv.at(15, 19) == kRed);
  // Huge coordinates do not overflow.
  vision::draw_box(cv.view(), Box{INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX}, kRed, INT32_MAX);
  CHECK(cv.count(kRed) == cv.w * cv.h);
  CHECK(cv.guard_intact());
}

TEST_CASE("draw_box: a zero-size box still draws a pixel; thickness below 1 draws 1") {
  Canvas cv(10, 10);
  vision::draw_box(cv.view(), Box{4, 6, 4, 6}, kRed, 2);
  CHECK(cv.at(4, 6) == kRed);
  CHECK(cv.count(kRed) == 1);
  vision::draw_box(cv.view(), Box{1, 1, 1, 5}, kRed, 0);  // zero width: a vertical line
  CHECK(cv.count(kRed) == 1 + 4);
  vision::draw_box(cv.view(), Box{10, 10, 10, 10}, kRed, 2);  // at the far corner: nothing to draw
  CHECK(cv.count(kRed) == 5);
  CHECK(cv.guard_intact());
}

TEST_CASE("draw_text: glyphs of the 5x7 font, scaled; non-ASCII as a hollow box per code point") {
  CHECK(vision::text_width("", 1) == 0);
  CHECK(vision::text_width("A", 1) == 5);
  CHECK(vision::text_width("AB", 2) == 22);
  CHECK(vision::text_width("caf\xc3\xa9", 1) == vision::text_width("cafe", 1));
  CHECK(vision::text_height(3) == 21);
  {
    Canvas cv(9, 8);
    vision::draw_text(cv.view(), 1, 1, "I", kRed);  // 01110 then 00100 x5 then 01110
    CHECK(cv.count(kRed) == 3 + 5 + 3);
    CHECK(cv.at(3, 1) == kRed);
    CHECK(cv.background(1, 1));
    CHECK(cv.at(3, 4) == kRed);
    CHECK(cv.background(2, 4));
    CHECK(cv.at(2, 7) == kRed);
  }
  {
    Canvas a(9, 8), b(9, 8), c(9, 8);
    vision::draw_text(a.view(), 1, 1, "\xe7\x8c\xab", kRed);  // one CJK character
    vision::draw_text(b.view(), 1, 1, "\x01", kRed);
    CHECK(a.count(kRed) == 5 + 5 + 5 * 2);  // a hollow 5x7 box
    CHECK(b.count(kRed) == a.count(kRed));
    vision::draw_text(c.view(), 1, 1, " ", kRed);
    CHECK(c.count(kRed) == 0);
  }
  {
    Canvas cv(20, 20);
    vision::draw_text(cv.view(), 2, 2, "I", kRed, 2);
    CHECK(cv.count(kRed) == 4 * 11);
  }
  {
    Canvas cv(6, 12);  // text running off every side
    vision::draw_text(cv.view(), -3, -2, "Hello, world", kRed, 2);
    vision::draw_text(cv.view(), 8, 3, "WWW", kRed, 1);
    CHECK(cv.count(kRed) > 0);
    CHECK(cv.guard_intact());
  }
}

TEST_CASE("draw_label: a filled background above the box's top-left corner, inside the image") {
  const int s = 1;
  const std::int64_t h = vision::text_height(s) + 2 * s, w = vision::text_width("cat", s) + 2 * s;  // 9 x 19
  {
    Canvas cv(60, 80);
    vision::draw_label(cv.view(), Box{20, 30, 60, 50}, "cat", kRed, s);
    for (std::int64_t y = 30 - h; y < 30; ++y) {
      CHECK(cv.at(20, y) == kRed);  // the margin column
      CHECK(cv.at(20 + w - 1, y) == kRed);
    }
    CHECK(cv.background(20, 30 - h - 1));
    CHECK(cv.background(20 + w, 25));
    CHECK(cv.background(20, 30));
    CHECK(cv.count(Rgb{255, 255, 255}) > 10);  // white text on red
    CHECK(cv.count(kRed) + cv.count(Rgb{255, 255, 255}) == w * h);
    CHECK(cv.guard_intact());
  }
  {
    Canvas cv(60, 80);
    vision::draw_label(cv.view(), Box{70, 0, 80, 40}, "cat", Rgb{255, 255, 0}, s);  // touches top and right
    CHECK(cv.at(79, 0) == Rgb{255, 255, 0});
    CHECK(cv.at(80 - w, h - 1) == Rgb{255, 255, 0});
    CHECK(cv.background(80 - w - 1, 0));
    CHECK(cv.background(79, h));
    CHECK(cv.count(Rgb{0, 0, 0}) > 10);  // black text on yellow
    CHECK(cv.guard_intact());
  }
  {
    Canvas cv(5, 6);  // smaller than the label: clipped
    vision::draw_label(cv.view(), Box{2, 2, 4, 4}, "a long label", kRed, 3);
    CHECK(cv.guard_intact());
    Canvas empty(10, 10);
    vision::draw_label(empty.view(), Box{2, 5, 4, 8}, "", kRed, 1);
    CHECK(empty.count(kRed) == 0);
  }
}

TEST_CASE("draw_grounding: every box with its label; distinct labels get distinct colours") {
  Canvas cv(300, 400);
  const std::string answer =
      "<|ref|>cat<|/ref|><|det|>[[100,400,300,800],[700,500,900,900]]<|/det|> and "
      "<|ref|>dog<|/ref|><|det|>[[400,100,600,300]]<|/det|> and <|det|>[[0,0,999,999]]<|/det|>";
  const auto g = language::parse_grounding(answer, 400, 300);
  REQUIRE(g.boxes.size() == 4);
  vision::draw_grounding(cv.view(), g);
  CHECK(vision::draw_scale(cv.view()) == 1);
  // Colours at each box's bottom-right edge (labels sit at the top-left).
  const auto colour_of = [&](const language::GroundedBox& b) { return cv.at(b.pixels.x2 - 1, b.pixels.y2 - 1); };
  const Rgb cat1 = colour_of(g.boxes[0]), cat2 = colour_of(g.boxes[1]), dog = colour_of(g.boxes[2]),
            none = colour_of(g.boxes[3]);
  CHECK(cat1 == vision::kBoxPalette[0]);
  CHECK(cat2 == cat1);
  CHECK(dog == vision::kBoxPalette[1]);
  CHECK(none == vision::kBoxPalette[2]);
  // The cat label above the first box, in its colour.
  const auto& b0 = g.boxes[0].pixels;
  CHECK(cv.at(b0.x1, b0.y1 - 1) == cat1);
  CHECK(cv.at(b0.x1, b0.y1 - vision::text_height(1) - 2) == cat1);
  CHECK(cv.background(b0.x1 + 5, b0.y1 + 5));
  CHECK(cv.guard_intact());

  // Ten palette colours are pairwise distinct; the eleventh label wraps around.
  std::set<std::tuple<int, int, int>> seen;
  for (const Rgb c : vision::kBoxPalette) seen.insert({c.r, c.g, c.b});
  CHECK(seen.size() == vision::kBoxPalette.size());
  std::string many;
  for (int i = 0; i < 11; ++i) many += "<|ref|>l" + std::to_string(i) + "<|/ref|><|det|>[[" + std::to_string(i * 90) + ",100," + std::to_string(i * 90 + 50) + ",900]]<|/det|>";
  Canvas c2(300, 1000);
  const auto g2 = language::parse_grounding(many, 1000, 300);
  REQUIRE(g2.boxes.size() == 11);
  vision::draw_grounding(c2.view(), g2);
  std::set<std::tuple<int, int, int>> used;
  for (std::size_t i = 0; i < 10; ++i) {
    const Rgb c = c2.at(g2.boxes[i].pixels.x2 - 1, g2.boxes[i].pixels.y2 - 1);
    used.insert({c.r, c.g, c.b});
  }
  CHECK(used.size() == 10);
  CHECK(c2.at(g2.boxes[10].pixels.x2 - 1, g2.boxes[10].pixels.y2 - 1) == vision::kBoxPalette[0]);
  CHECK(c2.guard_intact());
}

TEST_CASE("draw_grounding: scale and thickness follow the image size; style overrides them") {
  Tensor<std::uint8_t, 3> big({900, 1200, 3});
  CHECK(vision::draw_scale(big.view()) == 3);
  Tensor<std::uint8_t, 3> small({100, 100, 3});
  CHECK(vision::draw_scale(small.view()) == 1);

  Canvas cv(900, 1200, 1);
  const auto g = language::parse_grounding("<|ref|>x<|/ref|><|det|>[[500,500,900,900]]<|/det|>", 1200, 900);
  vision::draw_grounding(cv.view(), g);
  const auto& p = g.boxes[0].pixels;
  const Rgb c = vision::kBoxPalette[0];
  CHECK(cv.at(p.x2 - 6, p.y2 - 1) == c);  // thickness 2 * 3 = 6
  CHECK(cv.at(p.x2 - 1, p.y2 - 6) == c);
  CHECK(cv.background(p.x2 - 7, p.y2 - 7));
  CHECK(cv.at(p.x1, p.y1 - (vision::text_height(3) + 6)) == c);  // label 7*3 + 2*3 high
  CHECK(cv.background(p.x1, p.y1 - (vision::text_height(3) + 7)));

  Canvas thin(900, 1200, 1);
  vision::draw_grounding(thin.view(), g, {.scale = 1, .thickness = 1});
  CHECK(thin.at(p.x2 - 1, p.y2 - 1) == c);
  CHECK(thin.background(p.x2 - 2, p.y2 - 2));
}

TEST_CASE("draw_document: every block's boxes with the block's label, coloured by label") {
  Canvas cv(300, 400);
  const auto doc = language::parse_document(
      "<|ref|>title<|/ref|><|det|>[[100,100,900,200]]<|/det|>\n# T\n"
      "<|ref|>text<|/ref|><|det|>[[100,300,450,900],[550,300,900,900]]<|/det|>\nA\n"
      "<|ref|>title<|/ref|><|det|>[[0,950,999,999]]<|/det|>",
      400, 300);
  REQUIRE(doc.blocks.size() == 3);
  vision::draw_document(cv.view(), doc);
  const auto colour_of = [&](const language::GroundedBox& b) { return cv.at(b.pixels.x2 - 1, b.pixels.y2 - 1); };
  CHECK(colour_of(doc.blocks[0].boxes[0]) == vision::kBoxPalette[0]);
  CHECK(colour_of(doc.blocks[1].boxes[0]) == vision::kBoxPalette[1]);
  CHECK(colour_of(doc.blocks[1].boxes[1]) == vision::kBoxPalette[1]);
  CHECK(colour_of(doc.blocks[2].boxes[0]) == vision::kBoxPalette[0]);
  // The label above the first box.
  const auto& b0 = doc.blocks[0].boxes[0].pixels;
  CHECK(cv.at(b0.x1, b0.y1 - 1) == vision::kBoxPalette[0]);
  CHECK(cv.background(b0.x1 + 5, b0.y1 + 5));
  CHECK(cv.guard_intact());
  Tensor<std::uint8_t, 3> rgba({4, 4, 4});
  CHECK_THROWS_AS(vision::draw_document(rgba.view(), doc), dsvl::Error);
}

TEST_CASE("drawing needs an RGB image [H, W, 3]") {
  Tensor<std::uint8_t, 3> rgba({4, 4, 4});
  CHECK_THROWS_WITH_AS(vision::draw_box(rgba.view(), Box{0, 0, 2, 2}, kRed), doctest::Contains("[H, W, 3]"), dsvl::Error);
  CHECK_THROWS_AS(vision::draw_grounding(rgba.view(), language::Grounding{}), dsvl::Error);
  Tensor<std::uint8_t, 3> empty({0, 0, 3});
  vision::draw_box(empty.view(), Box{0, 0, 2, 2}, kRed);
  vision::draw_text(empty.view(), 0, 0, "x", kRed);
}
