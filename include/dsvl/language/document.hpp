#pragma once
// DeepSeek-OCR documents: a page's answer to "<|grounding|>Convert the document to markdown." as
// ordered blocks, and the blocks as Markdown or JSON.
//
// The model writes each layout element of the page, in reading order, as its label and boxes
// followed by its Markdown:
//
//   <|ref|>title<|/ref|><|det|>[[62, 41, 935, 88]]<|/det|>
//   # Annual report
//
//   <|ref|>image<|/ref|><|det|>[[100, 320, 500, 600]]<|/det|>
//
// That markup is DeepSeek-VL2's grounding markup, read by language::parse_grounding
// (grounding.hpp), so boxes, pixels and problems are its own: a box is kept only when well-formed
// and inside [0, 999] (nothing is clamped), its pixels are int(v / 999 * side) in double (999 maps
// to the page's width or height; the official run_dpsk_ocr_image.py computes the same), and
// whatever was malformed or dropped is a GroundingProblem. Model output never throws; only a
// page side <= 0 does (dsvl::Error).
//
//   auto doc = dsvl::language::parse_document(answer, page_width, page_height);
//   for (const auto& b : doc.blocks) use(b.order, b.label, b.boxes, b.text);
//   std::string md = dsvl::language::render_markdown(doc);
//
// Blocks cut the grounding caption (the answer without tags and box lists) into pieces:
// - a block starts at each <|ref|>: its label is the ref's phrase, its boxes those of the <|det|>s
//   that belong to the ref (the grounding parser's rule: only whitespace and other <|det|>s of the
//   ref lie between them);
// - a block also starts at a <|det|> that belongs to no ref: label "", its boxes (boxes without a
//   ref at one position of the caption, with only tags between them, make one block);
// - text before the first block is a block with no label and no boxes (an answer without markup
//   is one such block);
// - a block's text runs from the end of its label to the start of the next block, whitespace as
//   written. The blocks' labels and texts, in order, are the whole caption.
// A block's order is its index: the order of the answer, which is the model's reading order.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/error.hpp"
#include "dsvl/language/grounding.hpp"

namespace dsvl::language {

// The label of figure blocks, whose boxes are cropped from the page as pictures.
inline constexpr std::string_view kFigureLabel = "image";

struct DocumentBlock {
  std::size_t order = 0;           // index in Document::blocks
  std::string label;               // "title", "text", "image", "table", ...; "" without a <|ref|>
  std::vector<GroundedBox> boxes;  // its well-formed boxes in text order; pixels in the page
  std::string text;                // the Markdown after the label, up to the next block

  bool is_figure() const noexcept { return label == kFigureLabel; }
};

struct Document {
  int width = 0, height = 0;               // the page in pixels, as given to parse_document
  std::vector<DocumentBlock> blocks;       // in reading order
  std::vector<GroundingProblem> problems;  // the grounding parser's: dropped boxes, malformed markup

  bool ok() const noexcept { return problems.empty(); }
  // The boxes of figure blocks, in order: one crop and one Markdown link each.
  std::size_t figure_count() const noexcept {
    std::size_t n = 0;
    for (const auto& b : blocks)
      if (b.is_figure()) n += b.boxes.size();
    return n;
  }
};

// Parses a decoded answer (UTF-8, special tokens as their text) for a page of
// page_width x page_height pixels. Throws dsvl::Error only when a side is <= 0.
inline Document parse_document(std::string_view answer, int page_width, int page_height) {
  DSVL_CHECK(page_width > 0 && page_height > 0, "language::parse_document", "page size ", page_width, "x",
             page_height, " must be positive");
  Grounding g = parse_grounding(answer, page_width, page_height);
  Document doc{page_width, page_height, {}, std::move(g.problems)};

  // Each block's label in the caption, [begin, end); text runs from end to the next block's begin.
  std::vector<TextSpan> labels;
  std::vector<std::size_t> block_of_ref(g.refs.size());
  bool last_unlabelled = false;  // the last block holds boxes without a ref
  const auto start = [&](std::string label, TextSpan span) {
    doc.blocks.push_back({doc.blocks.size(), std::move(label), {}, {}});
    labels.push_back(span);
  };
  std::size_t r = 0;
  for (std::size_t b = 0; b <= g.boxes.size(); ++b) {
    const std::size_t box_at = b < g.boxes.size() ? g.boxes[b].source.begin : answer.size() + 1;
    for (; r < g.refs.size() && g.refs[r].source.begin < box_at; ++r) {
      block_of_ref[r] = doc.blocks.size();
      start(std::move(g.refs[r].label), g.refs[r].caption);
      last_unlabelled = false;
    }
    if (b == g.boxes.size()) break;
    const GroundedBox& box = g.boxes[b];
    if (box.ref != kNoRef) {
      doc.blocks[block_of_ref[box.ref]].boxes.push_back(box);
      continue;
    }
    if (!last_unlabelled || labels.back().end != box.caption_at) start({}, {box.caption_at, box.caption_at});
    doc.blocks.back().boxes.push_back(box);
    last_unlabelled = true;
  }
  if (const std::size_t first = labels.empty() ? g.caption.size() : labels.front().begin; first > 0) {
    doc.blocks.insert(doc.blocks.begin(), DocumentBlock{});
    labels.insert(labels.begin(), TextSpan{0, 0});
    for (std::size_t k = 0; k < doc.blocks.size(); ++k) doc.blocks[k].order = k;
  }
  for (std::size_t k = 0; k < doc.blocks.size(); ++k) {
    const std::size_t end = k + 1 < labels.size() ? labels[k + 1].begin : g.caption.size();
    doc.blocks[k].text = g.caption.substr(labels[k].end, end - labels[k].end);
  }
  return doc;
}

namespace detail {

inline void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

inline void check_figure_links(const Document& doc, std::span<const std::string> figure_links, const char* where) {
  DSVL_CHECK(figure_links.empty() || figure_links.size() == doc.figure_count(), where, figure_links.size(),
             " figure links for ", doc.figure_count(), " figure boxes");
}

}  // namespace detail

// The page as Markdown, as the official run_dpsk_ocr_image.py writes result.mmd: the blocks'
// texts in order (labels, tags and boxes removed), then `\coloneqq` -> `:=` and `\eqqcolon` -> `=:`.
// With figure links (one per figure box, figure_count() of them; where the crops were saved,
// written as given), a figure block's text is preceded by `![](link)\n` for each of its boxes.
// Differences from the official script: it writes one link per figure block but saves one crop
// per box (so after a block of several boxes its links name the wrong crops), applies the LaTeX
// replacements only when some block is not a figure, and leaves markup that its regular expression
// does not match (a ref without a det, a det without a ref, whitespace between them) in the text.
// Throws dsvl::Error when figure_links is neither empty nor of figure_count() links.
inline std::string render_markdown(const Document& doc, std::span<const std::string> figure_links = {}) {
  detail::check_figure_links(doc, figure_links, "language::render_markdown");
  std::string md;
  std::size_t f = 0;
  for (const auto& b : doc.blocks) {
    if (!figure_links.empty() && b.is_figure())
      for (std::size_t i = 0; i < b.boxes.size(); ++i) md += "![](" + figure_links[f++] + ")\n";
    md += b.text;
  }
  detail::replace_all(md, "\\coloneqq", ":=");
  detail::replace_all(md, "\\eqqcolon", "=:");
  return md;
}

// The page as one line of JSON (docs/ocr.md has the schema):
//   {"width": W, "height": H,
//    "blocks": [{"order": 0, "label": "title", "boxes": [[x1, y1, x2, y2], ...] (pixels),
//                "normalized": [[x1, y1, x2, y2], ...] (0..999), "text": "...",
//                "figures": ["images/0.png", ...] (figure blocks, when figure links are given)}, ...],
//    "problems": [{"begin": 12, "end": 20, "message": "..."}, ...]}
// Texts are the blocks' texts unchanged; bytes that are not valid UTF-8 become U+FFFD.
// Throws dsvl::Error when figure_links is neither empty nor of figure_count() links.
inline std::string render_json(const Document& doc, std::span<const std::string> figure_links = {}) {
  using json = nlohmann::ordered_json;
  detail::check_figure_links(doc, figure_links, "language::render_json");
  const auto corners = [](const Box& b) { return json::array({b.x1, b.y1, b.x2, b.y2}); };
  json blocks = json::array();
  std::size_t f = 0;
  for (const auto& b : doc.blocks) {
    json pixels = json::array(), normalized = json::array();
    for (const auto& box : b.boxes) {
      pixels.push_back(corners(box.pixels));
      normalized.push_back(corners(box.normalized));
    }
    json block = {{"order", b.order}, {"label", b.label}, {"boxes", std::move(pixels)},
                  {"normalized", std::move(normalized)}, {"text", b.text}};
    if (!figure_links.empty() && b.is_figure()) {
      json links = json::array();
      for (std::size_t i = 0; i < b.boxes.size(); ++i) links.push_back(figure_links[f++]);
      block["figures"] = std::move(links);
    }
    blocks.push_back(std::move(block));
  }
  json problems = json::array();
  for (const auto& p : doc.problems)
    problems.push_back({{"begin", p.source.begin}, {"end", p.source.end}, {"message", describe(p.issue)}});
  const json page = {{"width", doc.width}, {"height", doc.height}, {"blocks", std::move(blocks)},
                     {"problems", std::move(problems)}};
  return page.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace dsvl::language
