#pragma once
// Drawing on an RGB8 image [H, W, 3] (a View<std::uint8_t, 3>, any strides): filled rectangles,
// box outlines, one-line text in a built-in 5x7 bitmap font, and as labelled boxes DeepSeek-VL2
// grounding results (language::Grounding, for `dsvl run --grounding --draw-boxes OUT.png`) and
// DeepSeek-OCR documents (language::Document, for `dsvl ocr --draw-boxes OUT.png`).
//
//   auto img = dsvl::io::read_image(path);
//   auto g = dsvl::language::parse_grounding(answer, int(img.shape(1)), int(img.shape(0)));
//   dsvl::vision::draw_grounding(img.view(), g);
//   dsvl::io::write_png(out, img.view());
//
// Coordinates are pixels, x along the width and y along the height, (0, 0) the top-left pixel.
// Rectangles are half-open, [x1, x2) x [y1, y2), as language::Box pixel boxes are (edges in
// [0, W] x [0, H]). Everything is clipped to the image: any coordinates are accepted, and nothing
// outside the image is ever written. The only error (dsvl::Error) is an image whose last dimension
// is not 3.
//
// Text: printable ASCII (32..126) in a 5x7 font with one pixel between characters, each font pixel
// drawn as a scale x scale square. Any other byte is drawn as a hollow box, once per UTF-8 code
// point (continuation bytes are skipped), so a label in another script still shows its length.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/language/document.hpp"
#include "dsvl/language/grounding.hpp"

namespace dsvl::vision {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend constexpr bool operator==(const Rgb&, const Rgb&) = default;
};

// The colours draw_grounding gives to labels, in order of first appearance (then round again).
inline constexpr std::array<Rgb, 10> kBoxPalette = {{
    {230, 25, 75},    // red
    {60, 180, 75},    // green
    {0, 130, 200},    // blue
    {245, 130, 48},   // orange
    {145, 30, 180},   // purple
    {70, 240, 240},   // cyan
    {240, 50, 230},   // magenta
    {210, 245, 60},   // lime
    {0, 128, 128},    // teal
    {255, 225, 25},   // yellow
}};

// ---- the font --------------------------------------------------------------------------------

inline constexpr int kGlyphWidth = 5;   // font pixels
inline constexpr int kGlyphHeight = 7;
inline constexpr int kGlyphAdvance = 6;  // glyph and one blank column

namespace detail {

// Printable ASCII 32..126: seven rows, top first; bit 4 is the leftmost column.
inline constexpr std::uint8_t kFont5x7[95][kGlyphHeight] = {
    {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000},  // space
    {0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100},  // !
    {0b01010, 0b01010, 0b01010, 0b00000, 0b00000, 0b00000, 0b00000},  // "
    {0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010},  // #
    {0b00100, 0b01111, 0b10100, 0b01110, 0b00101, 0b11110, 0b00100},  // $
    {0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011},  // %
    {0b01100, 0b10010, 0b10100, 0b01000, 0b10101, 0b10010, 0b01101},  // &
    {0b00100, 0b00100, 0b00100, 0b00000, 0b00000, 0b00000, 0b00000},  // '
    {0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010},  // (
    {0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000},  // )
    {0b00000, 0b00100, 0b10101, 0b01110, 0b10101, 0b00100, 0b00000},  // *
    {0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000},  // +
    {0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000},  // ,
    {0b00000, 0b00000, 0b00000, 0b11111, 0b00000, 0b00000, 0b00000},  // -
    {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100},  // .
    {0b00000, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b00000},  // /
    {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110},  // 0
    {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110},  // 1
    {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111},  // 2
    {0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110},  // 3
    {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010},  // 4
    {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110},  // 5
    {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110},  // 6
    {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000},  // 7
    {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110},  // 8
    {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100},  // 9
    {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000},  // :
    {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b00100, 0b01000},  // ;
    {0b00010, 0b00100, 0b01000, 0b10000, 0b01000, 0b00100, 0b00010},  // <
    {0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000},  // =
    {0b01000, 0b00100, 0b00010, 0b00001, 0b00010, 0b00100, 0b01000},  // >
    {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100},  // ?
    {0b01110, 0b10001, 0b00001, 0b01101, 0b10101, 0b10101, 0b01110},  // @
    {0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001},  // A
    {0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110},  // B
    {0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110},  // C
    {0b11100, 0b10010, 0b10001, 0b10001, 0b10001, 0b10010, 0b11100},  // D
    {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111},  // E
    {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000},  // F
    {0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111},  // G
    {0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001},  // H
    {0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110},  // I
    {0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100},  // J
    {0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001},  // K
    {0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111},  // L
    {0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001},  // M
    {0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001},  // N
    {0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110},  // O
    {0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000},  // P
    {0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101},  // Q
    {0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001},  // R
    {0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110},  // S
    {0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100},  // T
    {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110},  // U
    {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100},  // V
    {0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010},  // W
    {0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001},  // X
    {0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100},  // Y
    {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111},  // Z
    {0b01110, 0b01000, 0b01000, 0b01000, 0b01000, 0b01000, 0b01110},  // [
    {0b00000, 0b10000, 0b01000, 0b00100, 0b00010, 0b00001, 0b00000},  // backslash
    {0b01110, 0b00010, 0b00010, 0b00010, 0b00010, 0b00010, 0b01110},  // ]
    {0b00100, 0b01010, 0b10001, 0b00000, 0b00000, 0b00000, 0b00000},  // ^
    {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111},  // _
    {0b01000, 0b00100, 0b00010, 0b00000, 0b00000, 0b00000, 0b00000},  // `
    {0b00000, 0b00000, 0b01110, 0b00001, 0b01111, 0b10001, 0b01111},  // a
    {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b11110},  // b
    {0b00000, 0b00000, 0b01110, 0b10000, 0b10000, 0b10001, 0b01110},  // c
    {0b00001, 0b00001, 0b01101, 0b10011, 0b10001, 0b10001, 0b01111},  // d
    {0b00000, 0b00000, 0b01110, 0b10001, 0b11111, 0b10000, 0b01110},  // e
    {0b00110, 0b01001, 0b01000, 0b11100, 0b01000, 0b01000, 0b01000},  // f
    {0b00000, 0b01111, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110},  // g
    {0b10000, 0b10000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001},  // h
    {0b00100, 0b00000, 0b01100, 0b00100, 0b00100, 0b00100, 0b01110},  // i
    {0b00010, 0b00000, 0b00110, 0b00010, 0b00010, 0b10010, 0b01100},  // j
    {0b10000, 0b10000, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010},  // k
    {0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110},  // l
    {0b00000, 0b00000, 0b11010, 0b10101, 0b10101, 0b10001, 0b10001},  // m
    {0b00000, 0b00000, 0b10110, 0b11001, 0b10001, 0b10001, 0b10001},  // n
    {0b00000, 0b00000, 0b01110, 0b10001, 0b10001, 0b10001, 0b01110},  // o
    {0b00000, 0b00000, 0b11110, 0b10001, 0b11110, 0b10000, 0b10000},  // p
    {0b00000, 0b00000, 0b01101, 0b10011, 0b01111, 0b00001, 0b00001},  // q
    {0b00000, 0b00000, 0b10110, 0b11001, 0b10000, 0b10000, 0b10000},  // r
    {0b00000, 0b00000, 0b01110, 0b10000, 0b01110, 0b00001, 0b11110},  // s
    {0b01000, 0b01000, 0b11100, 0b01000, 0b01000, 0b01001, 0b00110},  // t
    {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b10011, 0b01101},  // u
    {0b00000, 0b00000, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100},  // v
    {0b00000, 0b00000, 0b10001, 0b10001, 0b10101, 0b10101, 0b01010},  // w
    {0b00000, 0b00000, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001},  // x
    {0b00000, 0b00000, 0b10001, 0b10001, 0b01111, 0b00001, 0b01110},  // y
    {0b00000, 0b00000, 0b11111, 0b00010, 0b00100, 0b01000, 0b11111},  // z
    {0b00010, 0b00100, 0b00100, 0b01000, 0b00100, 0b00100, 0b00010},  // {
    {0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100},  // |
    {0b01000, 0b00100, 0b00100, 0b00010, 0b00100, 0b00100, 0b01000},  // }
    {0b00000, 0b00000, 0b01000, 0b10101, 0b00010, 0b00000, 0b00000},  // ~
};
// Any other character: a hollow box.
inline constexpr std::uint8_t kUnknownGlyph[kGlyphHeight] = {0b11111, 0b10001, 0b10001, 0b10001,
                                                             0b10001, 0b10001, 0b11111};

inline const std::uint8_t* glyph(unsigned char c) noexcept {
  return c >= 32 && c <= 126 ? kFont5x7[c - 32] : kUnknownGlyph;
}
// Bytes that start a drawn character: all but UTF-8 continuation bytes (10xxxxxx).
constexpr bool starts_char(unsigned char c) noexcept { return (c & 0xC0) != 0x80; }

inline void check_rgb(View<std::uint8_t, 3> image, const char* where) {
  DSVL_CHECK(image.shape(2) == 3, where, "the image must be RGB [H, W, 3], its last dimension is ",
             image.shape(2));
}

}  // namespace detail

// ---- primitives ------------------------------------------------------------------------------

// A legible font and line scale for an image: max(1, min(W, H) / 300).
inline int draw_scale(View<const std::uint8_t, 3> image) noexcept {
  return static_cast<int>(std::max<std::int64_t>(1, std::min(image.shape(0), image.shape(1)) / 300));
}

// Fills [x1, x2) x [y1, y2), clipped to the image; an empty rectangle draws nothing.
inline void fill_rect(View<std::uint8_t, 3> image, std::int64_t x1, std::int64_t y1, std::int64_t x2,
                      std::int64_t y2, Rgb colour) {
  detail::check_rgb(image, "vision::fill_rect");
  x1 = std::max<std::int64_t>(x1, 0);
  y1 = std::max<std::int64_t>(y1, 0);
  x2 = std::min(x2, image.shape(1));
  y2 = std::min(y2, image.shape(0));
  for (std::int64_t y = y1; y < y2; ++y) {
    for (std::int64_t x = x1; x < x2; ++x) {
      image(y, x, 0) = colour.r;
      image(y, x, 1) = colour.g;
      image(y, x, 2) = colour.b;
    }
  }
}

// The outline of a box, `thickness` pixels wide (at least 1), lying inside the box's pixels
// [x1, x2) x [y1, y2) so that a box over the whole image stays visible. A box less than a pixel
// wide or high (x2 <= x1 or y2 <= y1) is widened to one pixel, so it still shows.
inline void draw_box(View<std::uint8_t, 3> image, language::Box box, Rgb colour, int thickness = 2) {
  const std::int64_t t = std::max(thickness, 1);
  const std::int64_t x1 = box.x1, y1 = box.y1;
  const std::int64_t x2 = std::max<std::int64_t>(box.x2, x1 + 1), y2 = std::max<std::int64_t>(box.y2, y1 + 1);
  fill_rect(image, x1, y1, x2, std::min(y1 + t, y2), colour);  // top
  fill_rect(image, x1, std::max(y2 - t, y1), x2, y2, colour);  // bottom
  fill_rect(image, x1, y1, std::min(x1 + t, x2), y2, colour);  // left
  fill_rect(image, std::max(x2 - t, x1), y1, x2, y2, colour);  // right
}

// Width and height in pixels of `text` drawn by draw_text at `scale`.
inline std::int64_t text_width(std::string_view text, int scale = 1) noexcept {
  const auto n = std::count_if(text.begin(), text.end(), [](char c) { return detail::starts_char(static_cast<unsigned char>(c)); });
  return n == 0 ? 0 : (static_cast<std::int64_t>(n) * kGlyphAdvance - 1) * std::max(scale, 1);
}
inline std::int64_t text_height(int scale = 1) noexcept { return std::int64_t{kGlyphHeight} * std::max(scale, 1); }

// One line of text with its top-left corner at (x, y); only the glyphs' pixels are set.
inline void draw_text(View<std::uint8_t, 3> image, std::int64_t x, std::int64_t y, std::string_view text, Rgb colour,
                      int scale = 1) {
  detail::check_rgb(image, "vision::draw_text");
  const std::int64_t s = std::max(scale, 1);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (!detail::starts_char(c)) continue;
    if (x >= image.shape(1)) break;
    const std::uint8_t* rows = detail::glyph(c);
    for (int r = 0; r < kGlyphHeight; ++r)
      for (int col = 0; col < kGlyphWidth; ++col)
        if (rows[r] >> (kGlyphWidth - 1 - col) & 1) fill_rect(image, x + col * s, y + r * s, x + (col + 1) * s, y + (r + 1) * s, colour);
    x += kGlyphAdvance * s;
  }
}

// A label for a box: `text` in black or white (whichever contrasts) on a rectangle of `colour`,
// with `scale` pixels of margin, placed just above the box's top-left corner. Where that would
// leave the image it moves inside: below the box's top edge when the box touches the top, left
// when it would pass the right edge. An empty text draws nothing.
inline void draw_label(View<std::uint8_t, 3> image, language::Box box, std::string_view text, Rgb colour,
                       int scale = 1) {
  if (text.empty()) return;
  const std::int64_t s = std::max(scale, 1);
  const std::int64_t w = text_width(text, scale) + 2 * s, h = text_height(scale) + 2 * s;
  std::int64_t x = std::min<std::int64_t>(box.x1, image.shape(1) - w);
  std::int64_t y = std::min<std::int64_t>(box.y1 - h, image.shape(0) - h);
  x = std::max<std::int64_t>(x, 0);
  if (y < 0) y = std::max<std::int64_t>(std::min<std::int64_t>(box.y1, image.shape(0) - h), 0);
  fill_rect(image, x, y, x + w, y + h, colour);
  const int luma = 299 * colour.r + 587 * colour.g + 114 * colour.b;  // ITU-R BT.601, times 1000
  const Rgb ink = luma > 150000 ? Rgb{0, 0, 0} : Rgb{255, 255, 255};
  draw_text(image, x + s, y + s, text, ink, scale);
}

// ---- grounding and documents ----------------------------------------------------------------

struct GroundingStyle {
  int scale = 0;      // font and margin scale; 0: draw_scale(image)
  int thickness = 0;  // box outline width in pixels; 0: 2 * scale
};

namespace detail {

struct LabelledBox {
  language::Box pixels;
  std::string_view label;
};

// The boxes with their labels, coloured and ordered as draw_grounding says.
inline void draw_labelled_boxes(View<std::uint8_t, 3> image, std::span<const LabelledBox> boxes,
                                const GroundingStyle& style) {
  const int scale = style.scale > 0 ? style.scale : draw_scale(image);
  const int thickness = style.thickness > 0 ? style.thickness : 2 * scale;
  std::vector<std::string_view> labels;  // distinct labels, in order of first appearance
  std::vector<Rgb> colours;              // one per box
  colours.reserve(boxes.size());
  for (const auto& b : boxes) {
    auto it = std::find(labels.begin(), labels.end(), b.label);
    if (it == labels.end()) it = labels.insert(labels.end(), b.label);
    colours.push_back(kBoxPalette[static_cast<std::size_t>(it - labels.begin()) % kBoxPalette.size()]);
  }
  for (std::size_t i = 0; i < boxes.size(); ++i) draw_box(image, boxes[i].pixels, colours[i], thickness);
  for (std::size_t i = 0; i < boxes.size(); ++i) draw_label(image, boxes[i].pixels, boxes[i].label, colours[i], scale);
}

}  // namespace detail

// Draws every box of `g` (its pixel coordinates, for the image size given to parse_grounding) with
// its label above it. Each distinct label gets the next colour of kBoxPalette in order of first
// appearance (boxes without a label count as one more label, drawn without text); after ten labels
// the colours repeat. Boxes are drawn first and labels after, so no outline crosses a label.
inline void draw_grounding(View<std::uint8_t, 3> image, const language::Grounding& g, const GroundingStyle& style = {}) {
  detail::check_rgb(image, "vision::draw_grounding");
  std::vector<detail::LabelledBox> boxes;
  boxes.reserve(g.boxes.size());
  for (const auto& b : g.boxes) boxes.push_back({b.pixels, g.label(b)});
  detail::draw_labelled_boxes(image, boxes, style);
}

// Draws every box of the document's blocks (pixels for the page size given to parse_document) with
// its block's label above it, coloured as draw_grounding colours labels.
inline void draw_document(View<std::uint8_t, 3> image, const language::Document& doc, const GroundingStyle& style = {}) {
  detail::check_rgb(image, "vision::draw_document");
  std::vector<detail::LabelledBox> boxes;
  for (const auto& block : doc.blocks)
    for (const auto& b : block.boxes) boxes.push_back({b.pixels, block.label});
  detail::draw_labelled_boxes(image, boxes, style);
}

}  // namespace dsvl::vision
