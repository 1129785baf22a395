#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/error.hpp"
#include "dsvl/language/document.hpp"
#include "fuzz/document_invariants.hpp"

namespace {

using namespace dsvl::language;
using Issue = GroundingIssue;

// Parses and checks the invariants that hold for every answer.
Document parse(std::string_view answer, int w = 1240, int h = 1754) {
  Document d = parse_document(answer, w, h);
  const std::string violation = dsvl_test::document_violation(answer, d);
  CHECK_MESSAGE(violation.empty(), violation, " for answer: ", std::string(answer.substr(0, 300)));
  return d;
}

std::vector<std::string> labels(const Document& d) {
  std::vector<std::string> v;
  for (const auto& b : d.blocks) v.push_back(b.label);
  return v;
}
std::vector<std::string> texts(const Document& d) {
  std::vector<std::string> v;
  for (const auto& b : d.blocks) v.push_back(b.text);
  return v;
}
std::vector<Box> pixels(const DocumentBlock& b) {
  std::vector<Box> v;
  for (const auto& box : b.boxes) v.push_back(box.pixels);
  return v;
}
std::vector<Issue> issues(const Document& d) {
  std::vector<Issue> v;
  for (const auto& p : d.problems) v.push_back(p.issue);
  return v;
}

// A page as DeepSeek-OCR writes it: title, paragraph, figure, table.
constexpr std::string_view kPage =
    "<|ref|>title<|/ref|><|det|>[[62, 41, 935, 88]]<|/det|>\n# Annual report\n\n"
    "<|ref|>text<|/ref|><|det|>[[60,120,940,300]]<|/det|>\nParagraph one, with $a \\coloneqq b$.\n\n"
    "<|ref|>image<|/ref|><|det|>[[100,320,500,600]]<|/det|>\n\n"
    "<|ref|>table<|/ref|><|det|>[[80, 620, 920, 900]]<|/det|>\n<table><tr><td>1</td><td>2</td></tr></table>";

}  // namespace

namespace dsvl::language {
inline doctest::String toString(const Box& b) {
  return (std::string("[") + std::to_string(b.x1) + ", " + std::to_string(b.y1) + ", " + std::to_string(b.x2) +
          ", " + std::to_string(b.y2) + "]")
      .c_str();
}
inline doctest::String toString(const std::vector<Box>& v) {
  std::string s = "{";
  for (const auto& b : v) s += std::string(toString(b).c_str()) + " ";
  return (s + "}").c_str();
}
inline doctest::String toString(const std::vector<Issue>& v) {
  std::string s = "{";
  for (const auto i : v) s += std::string(describe(i)) + "; ";
  return (s + "}").c_str();
}
}  // namespace dsvl::language

TEST_CASE("document: a page of several blocks, in reading order, boxes in the page's pixels") {
  const Document d = parse(kPage, 1240, 1754);
  CHECK(d.ok());
  CHECK(d.width == 1240);
  CHECK(d.height == 1754);
  CHECK(labels(d) == std::vector<std::string>{"title", "text", "image", "table"});
  CHECK(texts(d) == std::vector<std::string>{"\n# Annual report\n\n", "\nParagraph one, with $a \\coloneqq b$.\n\n",
                                             "\n\n", "\n<table><tr><td>1</td><td>2</td></tr></table>"});
  for (std::size_t k = 0; k < d.blocks.size(); ++k) CHECK(d.blocks[k].order == k);
  // int(v / 999 * side): the official script's boxes, computed by it on this answer.
  CHECK(pixels(d.blocks[0]) == std::vector<Box>{{76, 71, 1160, 154}});
  CHECK(pixels(d.blocks[1]) == std::vector<Box>{{74, 210, 1166, 526}});
  CHECK(pixels(d.blocks[2]) == std::vector<Box>{{124, 561, 620, 1053}});
  CHECK(pixels(d.blocks[3]) == std::vector<Box>{{99, 1088, 1141, 1580}});
  CHECK(d.blocks[0].boxes[0].normalized == Box{62, 41, 935, 88});
  CHECK(d.blocks[2].is_figure());
  CHECK(d.figure_count() == 1);
}

TEST_CASE("document: Markdown as the official script writes it") {
  const Document d = parse(kPage);
  // run_dpsk_ocr_image.py on kPage (its jpg link named png here).
  const std::vector<std::string> links{"images/0.png"};
  CHECK(render_markdown(d, links) ==
        "\n# Annual report\n\n\nParagraph one, with $a := b$.\n\n![](images/0.png)\n\n\n\n"
        "<table><tr><td>1</td><td>2</td></tr></table>");
  // Without cropped figures, no links.
  CHECK(render_markdown(d) ==
        "\n# Annual report\n\n\nParagraph one, with $a := b$.\n\n\n\n\n<table><tr><td>1</td><td>2</td></tr></table>");
  CHECK(render_markdown(parse("x \\eqqcolon y \\coloneqq z")) == "x =: y := z");
  const std::vector<std::string> two{"a.png", "b.png"};
  CHECK_THROWS_AS(render_markdown(d, two), dsvl::Error);
  CHECK_THROWS_AS(render_json(d, two), dsvl::Error);
}

TEST_CASE("document: JSON of a page") {
  const Document d = parse(kPage);
  const std::vector<std::string> links{"images/0.png"};
  const std::string text = render_json(d, links);
  CHECK(text.find('\n') == std::string::npos);
  const auto j = nlohmann::json::parse(text);
  CHECK(j["width"] == 1240);
  CHECK(j["height"] == 1754);
  REQUIRE(j["blocks"].size() == 4);
  CHECK(j["blocks"][0] == nlohmann::json::parse(R"({"order": 0, "label": "title", "boxes": [[76, 71, 1160, 154]],
      "normalized": [[62, 41, 935, 88]], "text": "\n# Annual report\n\n"})"));
  CHECK(j["blocks"][2]["figures"] == nlohmann::json::array({"images/0.png"}));
  CHECK_FALSE(j["blocks"][1].contains("figures"));
  CHECK_FALSE(nlohmann::json::parse(render_json(d))["blocks"][2].contains("figures"));
  CHECK(j["problems"].empty());
  // Keys in the documented order.
  CHECK(text.starts_with(R"({"width":1240,"height":1754,"blocks":[{"order":0,"label":"title","boxes":)"));
}

TEST_CASE("document: several boxes per ref, one figure link and one crop per box") {
  const std::string_view answer =
      "<|ref|>image<|/ref|><|det|>[[0, 0, 999, 999], [500,0,999,400]]<|/det|>\n<center>Figure 1</center>\n"
      "<|ref|>text<|/ref|><|det|>[[1,2,3,4]]<|/det|><|det|>[[5,6,7,8]]<|/det|>\nTwo dets of one ref.";
  const Document d = parse(answer);
  REQUIRE(d.blocks.size() == 2);
  CHECK(pixels(d.blocks[0]) == std::vector<Box>{{0, 0, 1240, 1754}, {620, 0, 1240, 702}});
  CHECK(d.blocks[1].boxes.size() == 2);
  CHECK(d.figure_count() == 2);
  const std::vector<std::string> links{"f/0.png", "f/1.png"};
  CHECK(render_markdown(d, links) == "![](f/0.png)\n![](f/1.png)\n\n<center>Figure 1</center>\n\nTwo dets of one ref.");
}

TEST_CASE("document: boxes outside 0..999 or inverted are dropped and reported, the block kept") {
  const std::string_view answer =
      "<|ref|>text<|/ref|><|det|>[[10, 20, 1000, 40], [10, 20, 30, 40], [-1, 0, 5, 5], [30, 0, 10, 5]]<|/det|>\nKept.";
  const Document d = parse(answer);
  REQUIRE(d.blocks.size() == 1);
  CHECK(d.blocks[0].label == "text");
  CHECK(d.blocks[0].boxes.size() == 1);
  CHECK(d.blocks[0].boxes[0].normalized == Box{10, 20, 30, 40});
  CHECK(d.blocks[0].text == "\nKept.");
  CHECK(issues(d) == std::vector<Issue>{Issue::out_of_range, Issue::negative, Issue::inverted});
  CHECK(nlohmann::json::parse(render_json(d))["problems"].size() == 3);
}

TEST_CASE("document: text before the first ref, and dets without a ref, are blocks without a label") {
  const std::string_view answer =
      "Preamble.\n<|ref|>text<|/ref|><|det|>[[1,2,3,4]]<|/det|>\nA.\n"
      "<|det|>[[5,6,7,8]]<|/det|><|det|>[[9,9,9,9]]<|/det|>\nB.\n"
      "<|ref|>text<|/ref|> C.";
  const Document d = parse(answer);
  CHECK(labels(d) == std::vector<std::string>{"", "text", "", "text"});
  CHECK(texts(d) == std::vector<std::string>{"Preamble.\n", "\nA.\n", "\nB.\n", " C."});
  CHECK(d.blocks[0].boxes.empty());
  CHECK(d.blocks[2].boxes.size() == 2);  // one block: only tags lie between the two dets
  CHECK(d.blocks[3].boxes.empty());
  CHECK(d.ok());
  // An answer without markup ("Free OCR.") is one block.
  const Document free = parse("# Title\n\nJust text.");
  REQUIRE(free.blocks.size() == 1);
  CHECK(free.blocks[0].label.empty());
  CHECK(free.blocks[0].text == "# Title\n\nJust text.");
}

TEST_CASE("document: an empty answer, garbage and a non-positive page size") {
  const Document empty = parse("");
  CHECK(empty.blocks.empty());
  CHECK(empty.ok());
  CHECK(render_markdown(empty).empty());
  CHECK(render_json(empty) == R"({"width":1240,"height":1754,"blocks":[],"problems":[]})");

  const std::string_view garbage = "<|det|>]]][[1,2,<|ref|><|/det|>\xff\xfe<|/ref|>[[[<|ref|>x<|det|>[[1,2,3,4]";
  const Document g = parse(garbage);
  CHECK_FALSE(g.ok());
  CHECK(nlohmann::json::parse(render_json(g))["blocks"].size() == g.blocks.size());

  CHECK_THROWS_AS(parse_document("x", 0, 10), dsvl::Error);
  CHECK_THROWS_AS(parse_document("x", 10, -1), dsvl::Error);
}

TEST_CASE("document: an answer cut off at every byte keeps the complete blocks and every text") {
  // The invariants (parse()) check each cut: no throw, boxes in the page, the caption kept whole.
  for (std::size_t n = 0; n <= kPage.size(); ++n) {
    const std::string_view cut = kPage.substr(0, n);
    const Document d = parse(cut);
    for (std::size_t k = 0; k + 1 < d.blocks.size(); ++k) CHECK(d.blocks[k].boxes.size() == 1);
  }
  // Mid-box, mid-tag and mid-label.
  const Document box = parse("<|ref|>title<|/ref|><|det|>[[62, 41, 935, 8");
  CHECK(labels(box) == std::vector<std::string>{"title"});
  CHECK(box.blocks[0].boxes.empty());
  CHECK(issues(box) == std::vector<Issue>{Issue::det_unclosed, Issue::box_unclosed});
  const Document tag = parse("<|ref|>title<|/ref|><|det|>[[1,2,3,4]]<|/det|>\n# Title\n<|ref|>te");
  CHECK(labels(tag) == std::vector<std::string>{"title", "te"});
  CHECK(issues(tag) == std::vector<Issue>{Issue::ref_unclosed});
  const Document half = parse("<|ref|>title<|/ref|><|det|>[[1,2,3,4]]<|/det|>\n# Title\n<|re");
  CHECK(texts(half) == std::vector<std::string>{"\n# Title\n<|re"});
}

TEST_CASE("document: non-ASCII text and labels, and tables, are kept as written") {
  const std::string_view answer =
      "<|ref|>title<|/ref|><|det|>[[1,2,3,4]]<|/det|>\n# 年度报告 — Überblick 📈\n"
      "<|ref|>表格<|/ref|><|det|>[[5,6,7,8]]<|/det|>\n<table><tr><td>收入</td><td>€ 1 234</td></tr></table>";
  const Document d = parse(answer);
  CHECK(labels(d) == std::vector<std::string>{"title", "表格"});
  CHECK(d.blocks[0].text == "\n# 年度报告 — Überblick 📈\n");
  CHECK(d.blocks[1].text == "\n<table><tr><td>收入</td><td>€ 1 234</td></tr></table>");
  const auto j = nlohmann::json::parse(render_json(d));
  CHECK(j["blocks"][1]["label"] == "表格");
  CHECK(j["blocks"][1]["text"] == d.blocks[1].text);
  // Bytes that are not UTF-8 become U+FFFD in JSON.
  const Document bad = parse("<|ref|>text<|/ref|>a\xff");
  CHECK(nlohmann::json::parse(render_json(bad))["blocks"][0]["text"] == "a\xef\xbf\xbd");
}
