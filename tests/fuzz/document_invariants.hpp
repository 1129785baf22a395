#pragma once
// What every result of language::parse_document must satisfy, whatever the answer. Shared by the
// document fuzz target and the unit tests: returns "" when all hold, else the first violation.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/language/document.hpp"
#include "fuzz/grounding_invariants.hpp"

namespace dsvl_test {

// The document written back as an answer: each block as `<|ref|>label<|/ref|>`, its boxes in one
// `<|det|>` and its text; a first block without label or boxes as its text alone.
inline std::string written_answer(const dsvl::language::Document& doc) {
  std::string s;
  for (const auto& b : doc.blocks) {
    if (!(b.order == 0 && b.label.empty() && b.boxes.empty() && !b.text.empty())) s += "<|ref|>" + b.label + "<|/ref|>";
    if (!b.boxes.empty()) {
      s += "<|det|>[";
      for (std::size_t i = 0; i < b.boxes.size(); ++i) {
        const auto& n = b.boxes[i].normalized;
        s += (i ? ", [" : "[") + std::to_string(n.x1) + ", " + std::to_string(n.y1) + ", " + std::to_string(n.x2) +
             ", " + std::to_string(n.y2) + "]";
      }
      s += "]<|/det|>";
    }
    s += b.text;
  }
  return s;
}

inline bool holds_tag(std::string_view s) {
  for (const std::string_view tag : {"<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "<|grounding|>"})
    if (s.find(tag) != std::string_view::npos) return true;
  return false;
}

inline std::string document_violation(std::string_view answer, const dsvl::language::Document& doc) {
  using namespace dsvl::language;
  const auto where = [](std::size_t k) { return "block " + std::to_string(k) + ": "; };
  const Grounding g = parse_grounding(answer, doc.width, doc.height);
  if (!(doc.problems == g.problems)) return "problems differ from parse_grounding's";

  // The blocks hold every kept box, in text order, and cut the whole caption.
  std::string caption;
  std::vector<GroundedBox> boxes;
  std::size_t figures = 0;
  bool texts_tagged = false;
  for (std::size_t k = 0; k < doc.blocks.size(); ++k) {
    const DocumentBlock& b = doc.blocks[k];
    if (b.order != k) return where(k) + "order is not its index";
    for (const auto& box : b.boxes) {
      const Box& n = box.normalized;
      if (!(0 <= n.x1 && n.x1 <= n.x2 && n.x2 <= kGroundingScale && 0 <= n.y1 && n.y1 <= n.y2 &&
            n.y2 <= kGroundingScale))
        return where(k) + "box outside [0, 999] or inverted";
      if (!(box.pixels == to_pixels(n, doc.width, doc.height))) return where(k) + "pixels differ from to_pixels";
      const Box& p = box.pixels;
      if (!(0 <= p.x1 && p.x1 <= p.x2 && p.x2 <= doc.width && 0 <= p.y1 && p.y1 <= p.y2 && p.y2 <= doc.height))
        return where(k) + "box outside the page";
      boxes.push_back(box);
    }
    if (b.is_figure()) figures += b.boxes.size();
    caption += b.label;
    caption += b.text;
    texts_tagged = texts_tagged || holds_tag(b.label) || holds_tag(b.text);
  }
  if (caption != g.caption) return "labels and texts do not make the caption";
  if (boxes.size() != g.boxes.size()) return "blocks hold " + std::to_string(boxes.size()) + " boxes, the answer " +
                                             std::to_string(g.boxes.size());
  for (std::size_t i = 0; i < boxes.size(); ++i)
    if (!(boxes[i].source == g.boxes[i].source)) return "box " + std::to_string(i) + " out of text order";
  if (doc.figure_count() != figures) return "figure_count differs from the figure blocks' boxes";

  // Markdown: the texts, with the LaTeX replacements; with links, one per figure box.
  std::string texts;
  for (const auto& b : doc.blocks) texts += b.text;
  dsvl::language::detail::replace_all(texts, "\\coloneqq", ":=");
  dsvl::language::detail::replace_all(texts, "\\eqqcolon", "=:");
  if (render_markdown(doc) != texts) return "Markdown is not the blocks' texts";
  std::vector<std::string> links;
  for (std::size_t i = 0; i < figures; ++i) links.push_back("f/" + std::to_string(i) + ".png");
  const std::string md = render_markdown(doc, links);
  for (const auto& link : links)
    if (md.find("![](" + link + ")\n") == std::string::npos) return "Markdown lacks the figure link " + link;

  // JSON: parses back with every block's order, label, boxes and (valid UTF-8) text.
  const auto j = nlohmann::json::parse(render_json(doc, links), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return "render_json is not JSON";
  if (j["width"] != doc.width || j["height"] != doc.height || j["blocks"].size() != doc.blocks.size() ||
      j["problems"].size() != doc.problems.size())
    return "JSON page size or counts differ";
  for (std::size_t k = 0; k < doc.blocks.size(); ++k) {
    const auto& jb = j["blocks"][k];
    const DocumentBlock& b = doc.blocks[k];
    if (jb["order"] != k || jb["boxes"].size() != b.boxes.size()) return where(k) + "JSON order or boxes differ";
    for (std::size_t i = 0; i < b.boxes.size(); ++i) {
      const Box& p = b.boxes[i].pixels;
      if (jb["boxes"][i] != nlohmann::json::array({p.x1, p.y1, p.x2, p.y2})) return where(k) + "JSON box differs";
    }
    if (valid_utf8(b.label) && jb["label"] != b.label) return where(k) + "JSON label differs";
    if (valid_utf8(b.text) && jb["text"] != b.text) return where(k) + "JSON text differs";
    if (jb.contains("figures") != (b.is_figure() && !links.empty())) return where(k) + "JSON figures misplaced";
  }

  // What is kept, written back as an answer, parses to the same blocks without a problem.
  if (!texts_tagged) {
    const std::string again_text = written_answer(doc);
    const Document again = parse_document(again_text, doc.width, doc.height);
    if (!again.ok()) return "the kept blocks written back have problems: " + again_text.substr(0, 200);
    if (again.blocks.size() != doc.blocks.size()) return "the kept blocks written back give another block count";
    for (std::size_t k = 0; k < doc.blocks.size(); ++k) {
      const DocumentBlock &a = again.blocks[k], &b = doc.blocks[k];
      if (a.label != b.label || a.text != b.text || a.boxes.size() != b.boxes.size())
        return where(k) + "differs once written back";
      for (std::size_t i = 0; i < a.boxes.size(); ++i)
        if (!(a.boxes[i].normalized == b.boxes[i].normalized)) return where(k) + "a box differs once written back";
    }
  }
  return {};
}

}  // namespace dsvl_test
