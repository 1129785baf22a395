#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/language/grounding.hpp"
#include "fuzz/grounding_invariants.hpp"

namespace {

using namespace dsvl::language;
using Issue = GroundingIssue;

// Parses and checks the invariants that hold for every text.
Grounding parse(std::string_view text, int w = 1000, int h = 1000) {
  Grounding g = parse_grounding(text, w, h);
  const std::string violation = dsvl_test::grounding_violation(text, g, w, h);
  CHECK_MESSAGE(violation.empty(), violation, " for text: ", std::string(text.substr(0, 200)));
  return g;
}

std::vector<Box> normalized(const Grounding& g) {
  std::vector<Box> v;
  for (const auto& b : g.boxes) v.push_back(b.normalized);
  return v;
}
std::vector<Issue> issues(const Grounding& g) {
  std::vector<Issue> v;
  for (const auto& p : g.problems) v.push_back(p.issue);
  return v;
}
std::string_view at(std::string_view text, TextSpan s) { return text.substr(s.begin, s.size()); }

}  // namespace

namespace dsvl::language {
// For doctest's failure messages.
inline doctest::String toString(const Box& b) {
  return (std::string("[") + std::to_string(b.x1) + ", " + std::to_string(b.y1) + ", " + std::to_string(b.x2) +
          ", " + std::to_string(b.y2) + "]")
      .c_str();
}
inline doctest::String toString(Issue i) { return std::string(describe(i)).c_str(); }
inline doctest::String toString(const std::vector<Box>& v) {
  std::string s = "{";
  for (const auto& b : v) s += std::string(toString(b).c_str()) + " ";
  return (s + "}").c_str();
}
inline doctest::String toString(const std::vector<Issue>& v) {
  std::string s = "{";
  for (const auto i : v) s += std::to_string(static_cast<int>(i)) + " ";
  return (s + "}").c_str();
}
}  // namespace dsvl::language

// ---- well-formed answers ------------------------------------------------------------------------

TEST_CASE("grounding: the README answer on a 640x480 image") {
  const std::string_view text =
      "<|ref|>The giraffe at the back.<|/ref|><|det|>[[580, 270, 999, 900]]<|/det|>";
  const Grounding g = parse(text, 640, 480);
  REQUIRE(g.boxes.size() == 1);
  const GroundedBox& b = g.boxes[0];
  CHECK(b.normalized == Box{580, 270, 999, 900});
  // int(580/999*640) = int(371.57) = 371, int(270/999*480) = int(129.73) = 129,
  // int(999/999*640) = 640, int(900/999*480) = int(432.43) = 432.
  CHECK(b.pixels == Box{371, 129, 640, 432});
  CHECK(g.label(b) == "The giraffe at the back.");
  CHECK(at(text, b.source) == "[580, 270, 999, 900]");
  REQUIRE(g.refs.size() == 1);
  CHECK(g.refs[0].label == "The giraffe at the back.");
  CHECK(g.refs[0].source == TextSpan{0, 39});
  CHECK(b.ref == 0);
  CHECK(g.caption == "The giraffe at the back.");
  CHECK(g.ok());
}

TEST_CASE("grounding: pixels follow the demo's double arithmetic") {
  // 63 * 111 / 999 is exactly 7, but 63 / 999 * 111 in double is 6.999..., and the demo truncates it.
  CHECK(to_pixels({63, 0, 63, 999}, 111, 50) == Box{6, 0, 6, 50});
  CHECK(to_pixels({0, 0, 999, 999}, 1, 1) == Box{0, 0, 1, 1});
  CHECK(to_pixels({0, 0, 999, 999}, 2147483647, 3) == Box{0, 0, 2147483647, 3});
  CHECK(to_pixels({500, 500, 500, 500}, 1000, 10) == Box{500, 5, 500, 5});
  CHECK_THROWS_AS(to_pixels({0, 0, 1000, 0}, 10, 10), dsvl::Error);
  CHECK_THROWS_AS(to_pixels({-1, 0, 0, 0}, 10, 10), dsvl::Error);
  CHECK_THROWS_WITH_AS(to_pixels({0, 0, 0, 0}, 0, 10), doctest::Contains("language::to_pixels: image size 0x10"),
                       dsvl::Error);
}

TEST_CASE("grounding: a non-positive image size is the caller's error") {
  CHECK_THROWS_WITH_AS(parse_grounding("", 0, 480), doctest::Contains("language::parse_grounding: image size 0x480"),
                       dsvl::Error);
  CHECK_THROWS_AS(parse_grounding("x", 640, -1), dsvl::Error);
  CHECK_NOTHROW(parse_grounding("<|det|>[[", 1, 1));
}

TEST_CASE("grounding: several boxes in one det share the label") {
  const std::string_view text = "<|ref|>giraffes<|/ref|><|det|>[[10, 20, 30, 40], [50, 60, 70, 80],[0,0,999,999]]<|/det|>";
  const Grounding g = parse(text);
  CHECK(normalized(g) == std::vector<Box>{{10, 20, 30, 40}, {50, 60, 70, 80}, {0, 0, 999, 999}});
  for (const auto& b : g.boxes) CHECK(g.label(b) == "giraffes");
  CHECK(at(text, g.boxes[1].source) == "[50, 60, 70, 80]");
  CHECK(g.ok());
}

TEST_CASE("grounding: several refs, a det without ref and a ref without det") {
  const std::string_view text =
      "<|ref|>cat<|/ref|><|det|>[[1,2,3,4]]<|/det|>"
      "<|ref|>dog<|/ref|><|det|>[[5,6,7,8]]<|/det|>"
      "<|det|>[[9,9,9,9]]<|/det|>"  // belongs to "dog" too: only dets of that ref lie between
      " and <|det|>[[0,0,1,1]]<|/det|>"
      "<|ref|>bird<|/ref|>";
  const Grounding g = parse(text);
  REQUIRE(g.boxes.size() == 4);
  CHECK(g.label(g.boxes[0]) == "cat");
  CHECK(g.label(g.boxes[1]) == "dog");
  CHECK(g.label(g.boxes[2]) == "dog");
  CHECK(g.boxes[3].ref == kNoRef);
  CHECK(g.label(g.boxes[3]).empty());
  REQUIRE(g.refs.size() == 3);
  CHECK(g.refs[2].label == "bird");
  CHECK(g.caption == "catdog and bird");
  // Where each det was cut out of the caption.
  CHECK(g.boxes[0].caption_at == 3);
  CHECK(g.boxes[1].caption_at == 6);
  CHECK(g.boxes[2].caption_at == 6);
  CHECK(g.boxes[3].caption_at == 11);
  CHECK(g.ok());
}

TEST_CASE("grounding: a grounded caption keeps the prose and the phrases") {
  const std::string_view text =
      "<|grounding|>In the image, <|ref|>a giraffe<|/ref|><|det|>[[580, 270, 999, 900]]<|/det|> stands behind "
      "<|ref|>two zebras<|/ref|>\n<|det|>[[10, 400, 300, 990], [320, 410, 560, 980]]<|/det|>. The sky is blue.";
  const Grounding g = parse(text, 1024, 768);
  CHECK(g.caption == "In the image, a giraffe stands behind two zebras\n. The sky is blue.");
  REQUIRE(g.refs.size() == 2);
  CHECK(at(g.caption, g.refs[0].caption) == "a giraffe");
  CHECK(at(g.caption, g.refs[1].caption) == "two zebras");
  REQUIRE(g.boxes.size() == 3);
  CHECK(g.label(g.boxes[0]) == "a giraffe");
  CHECK(g.label(g.boxes[1]) == "two zebras");
  CHECK(g.label(g.boxes[2]) == "two zebras");
  CHECK(g.boxes[1].pixels == to_pixels({10, 400, 300, 990}, 1024, 768));
  CHECK(g.ok());
}

TEST_CASE("grounding: whitespace and newlines anywhere inside the list") {
  const std::string_view text = "<|ref|>x<|/ref|><|det|>\n [ [ 1 ,\n2,\t3 , 4 ]\r\n,\n[5,6,7,8] ] \n<|/det|>";
  const Grounding g = parse(text);
  CHECK(normalized(g) == std::vector<Box>{{1, 2, 3, 4}, {5, 6, 7, 8}});
  CHECK(g.ok());
  CHECK(g.caption == "x");
}

TEST_CASE("grounding: zero-size boxes and leading zeros are well-formed") {
  const Grounding g = parse("<|det|>[[5, 5, 5, 5], [007, 0, 999, 0]]<|/det|>");
  CHECK(normalized(g) == std::vector<Box>{{5, 5, 5, 5}, {7, 0, 999, 0}});
  CHECK(g.ok());
}

TEST_CASE("grounding: text without markup, and other special tokens, are plain text") {
  const std::string_view text = "No boxes here [1, 2, 3, 4] <|User|> a<b |> <|ref <|/det <｜end▁of▁sentence｜>";
  const Grounding g = parse(text);
  CHECK(g.boxes.empty());
  CHECK(g.caption == text);
  CHECK(g.ok());
  CHECK(parse("").caption.empty());
}

// ---- malformed boxes: dropped and reported --------------------------------------------------------

TEST_CASE("grounding: a box without exactly four numbers is dropped, its neighbours kept") {
  const std::string_view text = "<|det|>[[1,2,3], [10,20,30,40], [1,2,3,4,5], [1,2,3,4,5,6,7,8], [7]]<|/det|>";
  const Grounding g = parse(text);
  CHECK(normalized(g) == std::vector<Box>{{10, 20, 30, 40}});
  CHECK(issues(g) == std::vector<Issue>{Issue::box_size, Issue::box_size, Issue::box_size, Issue::box_size});
  CHECK(at(text, g.problems[0].source) == "[1,2,3]");
  CHECK(at(text, g.problems[1].source) == "[1,2,3,4,5]");
  for (const auto& p : g.problems) CHECK(drops_box(p.issue));
}

TEST_CASE("grounding: coordinates over 999, runaway digits, negatives and decimals") {
  const std::string_view text =
      "<|det|>[[1000, 0, 1000, 10], [0, 0, 99999999999999999999999999999999, 5], [-5, 0, 10, 10], "
      "[0.5, 0, 10, 10], [1, +2, 3, 4], [1, 2-3, 4, 5], [1, ., 3, 4], [1, 2, 3, 4]]<|/det|>";
  const Grounding g = parse(text);
  CHECK(normalized(g) == std::vector<Box>{{1, 2, 3, 4}});
  CHECK(issues(g) == std::vector<Issue>{Issue::out_of_range, Issue::out_of_range, Issue::negative, Issue::not_integer,
                                        Issue::not_integer, Issue::not_integer, Issue::not_integer});
  CHECK(at(text, g.problems[1].source) == "[0, 0, 99999999999999999999999999999999, 5]");
}

TEST_CASE("grounding: inverted boxes are dropped, not swapped") {
  const Grounding g = parse("<|det|>[[30, 10, 20, 40], [10, 40, 20, 30], [10, 10, 20, 20]]<|/det|>");
  CHECK(normalized(g) == std::vector<Box>{{10, 10, 20, 20}});
  CHECK(issues(g) == std::vector<Issue>{Issue::inverted, Issue::inverted});
}

TEST_CASE("grounding: missing or extra commas inside a box") {
  const std::string_view text = "<|det|>[[1 2 3 4], [1,,2,3,4], [,1,2,3,4], [1,2,3,4,], [5,6,7,8]]<|/det|>";
  const Grounding g = parse(text);
  CHECK(normalized(g) == std::vector<Box>{{5, 6, 7, 8}});
  CHECK(issues(g) == std::vector<Issue>(4, Issue::box_syntax));
}

TEST_CASE("grounding: numbers without a box's own brackets are dropped") {
  const std::string_view text = "<|det|>1, 2, 3, 4<|/det|>";
  const Grounding g = parse(text);
  CHECK(g.boxes.empty());
  CHECK(issues(g) == std::vector<Issue>{Issue::box_syntax});
  CHECK(at(text, g.problems[0].source) == "1, 2, 3, 4");

  const Grounding g2 = parse("<|det|>[[1,2,3,4], 5, 6, 7, 8]<|/det|>");
  CHECK(normalized(g2) == std::vector<Box>{{1, 2, 3, 4}});
  CHECK(issues(g2) == std::vector<Issue>{Issue::box_syntax});
}

TEST_CASE("grounding: nested lists") {
  // A list inside a box: the box before it is cut off, the inner one is too short.
  const Grounding g = parse("<|det|>[[1, 2, [3, 4]], [5, 6, 7, 8]]<|/det|>");
  CHECK(normalized(g) == std::vector<Box>{{5, 6, 7, 8}});
  CHECK(issues(g) == std::vector<Issue>{Issue::box_unclosed, Issue::box_size, Issue::list_syntax});

  // Extra brackets around well-formed boxes cost no box.
  const Grounding g2 = parse("<|det|>[[[1, 2, 3, 4]], [[[5, 6, 7, 8]]]]<|/det|>");
  CHECK(normalized(g2) == std::vector<Box>{{1, 2, 3, 4}, {5, 6, 7, 8}});
  CHECK(issues(g2) == std::vector<Issue>{Issue::list_syntax});  // once per det
}

TEST_CASE("grounding: missing outer brackets and unclosed lists keep the boxes") {
  const std::string_view one = "<|det|>[580, 270, 999, 900]<|/det|>";
  const Grounding g = parse(one);
  CHECK(normalized(g) == std::vector<Box>{{580, 270, 999, 900}});
  CHECK(issues(g) == std::vector<Issue>{Issue::list_syntax});
  CHECK_FALSE(drops_box(g.problems[0].issue));

  const Grounding g2 = parse("<|det|>[1,2,3,4], [5,6,7,8]<|/det|>");
  CHECK(normalized(g2) == std::vector<Box>{{1, 2, 3, 4}, {5, 6, 7, 8}});
  CHECK(issues(g2) == std::vector<Issue>{Issue::list_syntax});

  const Grounding g3 = parse("<|det|>[[1,2,3,4], [5,6,7,8]<|/det|>");
  CHECK(normalized(g3) == std::vector<Box>{{1, 2, 3, 4}, {5, 6, 7, 8}});
  CHECK(issues(g3) == std::vector<Issue>{Issue::list_syntax});

  const Grounding g4 = parse("<|det|>[[1,2,3,4]]]]<|/det|>");
  CHECK(normalized(g4) == std::vector<Box>{{1, 2, 3, 4}});
  CHECK(issues(g4) == std::vector<Issue>{Issue::list_syntax});

  const Grounding g5 = parse("<|det|>[[1,2,3,4][5,6,7,8],,]<|/det|>");
  CHECK(normalized(g5) == std::vector<Box>{{1, 2, 3, 4}, {5, 6, 7, 8}});
  CHECK(issues(g5) == std::vector<Issue>{Issue::list_syntax});
}

TEST_CASE("grounding: a box missing its ']' is dropped") {
  const std::string_view text = "<|det|>[[1,2,3,4, [5,6,7,8]]<|/det|>";
  const Grounding g = parse(text);
  CHECK(normalized(g) == std::vector<Box>{{5, 6, 7, 8}});
  REQUIRE(issues(g) == std::vector<Issue>{Issue::box_unclosed});
  CHECK(at(text, g.problems[0].source) == "[1,2,3,4");
  // At <|/det|>: the box and its list are both unclosed.
  CHECK(issues(parse("<|det|>[[1,2,3,4<|/det|>")) == std::vector<Issue>{Issue::box_unclosed, Issue::list_syntax});
}

// ---- malformed markup ---------------------------------------------------------------------------

TEST_CASE("grounding: text cut off at every byte of an answer") {
  const std::string full =
      "A <|ref|>cat<|/ref|><|det|>[[12, 345, 678, 901], [0, 0, 999, 999]]<|/det|> on <|ref|>a mat<|/ref|>"
      "<|det|>[[100, 200, 300, 400]]<|/det|>.";
  const Grounding whole = parse(full);
  REQUIRE(whole.boxes.size() == 3);
  REQUIRE(whole.ok());
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const std::string_view cut = std::string_view(full).substr(0, n);
    const Grounding g = parse(cut);
    // The boxes are exactly those whose ']' made it into the text.
    std::size_t expected = 0;
    for (const auto& b : whole.boxes) expected += b.source.end <= n;
    REQUIRE(g.boxes.size() == expected);
    for (std::size_t k = 0; k < expected; ++k) {
      CHECK(g.boxes[k].normalized == whole.boxes[k].normalized);
      CHECK(g.label(g.boxes[k]) == whole.label(whole.boxes[k]));
    }
  }
  // Cut inside a box: the box is dropped, and so reported; the det is unclosed.
  const std::string_view mid = "<|ref|>cat<|/ref|><|det|>[[12, 345, 678, 901], [0, 0, 99";
  const Grounding g = parse(mid);
  CHECK(normalized(g) == std::vector<Box>{{12, 345, 678, 901}});
  CHECK(issues(g) == std::vector<Issue>{Issue::det_unclosed, Issue::box_unclosed});
  CHECK(at(mid, g.problems[0].source) == "<|det|>[[12, 345, 678, 901], [0, 0, 99");
  CHECK(at(mid, g.problems[1].source) == "[0, 0, 99");
}

TEST_CASE("grounding: a missing <|/det|> ends the boxes at the prose") {
  const std::string_view text =
      "A <|ref|>cat<|/ref|><|det|>[[1, 2, 3, 4]] sits on <|ref|>a mat<|/ref|><|det|>[[5, 6, 7, 8]]\n<|ref|>x<|/ref|>";
  const Grounding g = parse(text);
  CHECK(normalized(g) == std::vector<Box>{{1, 2, 3, 4}, {5, 6, 7, 8}});
  CHECK(g.label(g.boxes[0]) == "cat");
  CHECK(g.label(g.boxes[1]) == "a mat");
  CHECK(g.caption == "A cat sits on a mat\nx");
  CHECK(issues(g) == std::vector<Issue>{Issue::det_unclosed, Issue::det_unclosed});
  CHECK(at(text, g.problems[0].source) == "<|det|>[[1, 2, 3, 4]]");

  // A number after the closed list is prose too.
  const Grounding g2 = parse("<|det|>[[1, 2, 3, 4]] 3 cats");
  CHECK(g2.caption == " 3 cats");
  CHECK(issues(g2) == std::vector<Issue>{Issue::det_unclosed});
  // Prose inside an open list ends the det; the unfinished box is dropped.
  const Grounding g3 = parse("<|det|>[[1, 2, 3, 4], [5, 6 the end");
  CHECK(normalized(g3) == std::vector<Box>{{1, 2, 3, 4}});
  CHECK(issues(g3) == std::vector<Issue>{Issue::det_unclosed, Issue::box_unclosed});
  CHECK(g3.caption == " the end");
}

TEST_CASE("grounding: a missing <|/ref|>") {
  const std::string_view text = "<|ref|>cat<|det|>[[1,2,3,4]]<|/det|> and <|ref|>dog <|ref|>bird<|/ref|> <|ref|>fish";
  const Grounding g = parse(text);
  REQUIRE(g.boxes.size() == 1);
  CHECK(g.label(g.boxes[0]) == "cat");  // the det ends the ref and takes its phrase
  REQUIRE(g.refs.size() == 4);
  CHECK(g.refs[1].label == "dog ");
  CHECK(g.refs[2].label == "bird");
  CHECK(g.refs[3].label == "fish");
  CHECK(g.caption == "cat and dog bird fish");
  CHECK(issues(g) == std::vector<Issue>{Issue::ref_unclosed, Issue::ref_unclosed, Issue::ref_unclosed});
  CHECK(at(text, g.problems[0].source) == "<|ref|>cat");
  CHECK(at(text, g.problems[2].source) == "<|ref|>fish");
}

TEST_CASE("grounding: stray and repeated tags") {
  const std::string_view text =
      "<|/ref|>a<|/det|> <|ref|><|ref|>cat<|/ref|><|/ref|><|det|><|det|>[[1,2,3,4]]<|/det|><|/det|>";
  const Grounding g = parse(text);
  REQUIRE(g.boxes.size() == 1);
  CHECK(g.label(g.boxes[0]) == "cat");
  CHECK(g.refs.size() == 2);  // the first <|ref|> is empty and unclosed
  CHECK(g.refs[0].label.empty());
  CHECK(g.caption == "a cat");
  CHECK(issues(g) == std::vector<Issue>{Issue::stray_close, Issue::stray_close, Issue::ref_unclosed,
                                        Issue::stray_close, Issue::det_unclosed, Issue::stray_close});
  for (const auto& p : g.problems) CHECK_FALSE(drops_box(p.issue));
}

TEST_CASE("grounding: empty dets") {
  CHECK(issues(parse("<|det|><|/det|>")) == std::vector<Issue>{Issue::det_empty});
  CHECK(issues(parse("<|det|> [ ] <|/det|>")) == std::vector<Issue>{Issue::det_empty});
  CHECK(issues(parse("<|det|>[[]]<|/det|>")) == std::vector<Issue>{Issue::det_empty, Issue::list_syntax});
  CHECK(issues(parse("<|det|>")) == std::vector<Issue>{Issue::det_unclosed});
  const Grounding g = parse("<|det|>none<|/det|>");
  CHECK(issues(g) == std::vector<Issue>{Issue::det_unclosed, Issue::stray_close});
  CHECK(g.caption == "none");
}

TEST_CASE("grounding: problems are ordered and printable") {
  const std::string_view text = "<|ref|>a<|/det|>b<|det|>[[1,2,3]]";
  const Grounding g = parse(text);
  CHECK(issues(g) == std::vector<Issue>{Issue::ref_unclosed, Issue::stray_close, Issue::det_unclosed,
                                        Issue::box_size});
  CHECK(to_string(g.problems[0]) == "bytes 0-17: <|ref|> not closed by <|/ref|>");
  for (int i = 0; i <= static_cast<int>(Issue::stray_close); ++i)
    CHECK_FALSE(describe(static_cast<Issue>(i)).empty());
}

TEST_CASE("grounding: random well-formed answers parse back exactly") {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  const auto next = [&](std::uint32_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>((state >> 33) % bound);
  };
  const char* spaces[] = {"", " ", "\n", "  ", "\t"};
  for (int round = 0; round < 200; ++round) {
    std::string text;
    std::vector<Box> expected;
    std::vector<std::string> labels;
    const int refs = static_cast<int>(next(4));
    for (int r = 0; r < refs; ++r) {
      text += "prose " + std::to_string(r) + " ";
      const bool has_ref = next(4) != 0;
      const std::string label = "thing " + std::to_string(r);
      if (has_ref) text += "<|ref|>" + label + "<|/ref|>";
      text += "<|det|>[";
      const int n = 1 + static_cast<int>(next(3));
      for (int k = 0; k < n; ++k) {
        Box b;
        b.x1 = static_cast<int>(next(1000));
        b.x2 = b.x1 + static_cast<int>(next(static_cast<std::uint32_t>(1000 - b.x1)));
        b.y1 = static_cast<int>(next(1000));
        b.y2 = b.y1 + static_cast<int>(next(static_cast<std::uint32_t>(1000 - b.y1)));
        const auto sp = [&] { return spaces[next(5)]; };
        text += std::string(k ? "," : "") + sp() + "[" + sp() + std::to_string(b.x1) + sp() + "," + sp() +
                std::to_string(b.y1) + "," + sp() + std::to_string(b.x2) + "," + std::to_string(b.y2) + sp() + "]";
        expected.push_back(b);
        labels.push_back(has_ref ? label : "");
      }
      text += "]<|/det|>";
    }
    const int w = 1 + static_cast<int>(next(5000)), h = 1 + static_cast<int>(next(5000));
    const Grounding g = parse(text, w, h);
    REQUIRE(g.ok());
    REQUIRE(normalized(g) == expected);
    for (std::size_t k = 0; k < expected.size(); ++k) {
      CHECK(g.label(g.boxes[k]) == labels[k]);
      CHECK(g.boxes[k].pixels == to_pixels(expected[k], w, h));
    }
  }
}

// ---- long adversarial inputs --------------------------------------------------------------------
// Each is 1 MB or more; the parser makes one pass over the text (plus a sort of the problems), so
// these take milliseconds, where anything quadratic would take hours.

TEST_CASE("grounding: long adversarial inputs parse in one pass") {
  constexpr std::size_t kMiB = 1 << 20;
  const auto repeat = [](std::string_view piece, std::size_t bytes) {
    std::string s;
    s.reserve(bytes + piece.size());
    while (s.size() < bytes) s += piece;
    return s;
  };
  {
    const std::string s = "<|det|>" + repeat("[", kMiB);
    const Grounding g = parse(s);
    CHECK(g.boxes.empty());
    CHECK(issues(g) == std::vector<Issue>{Issue::det_unclosed});
  }
  {
    const std::string s = "<|det|>" + repeat("]", kMiB) + "<|/det|>";
    CHECK(issues(parse(s)) == std::vector<Issue>{Issue::det_empty, Issue::list_syntax});
  }
  {
    const std::string s = "<|det|>[[1, 2, 3, " + repeat("9", kMiB) + "]]<|/det|>";
    CHECK(issues(parse(s)) == std::vector<Issue>{Issue::out_of_range});
  }
  {
    const std::string s = "<|det|>[" + repeat("[1,2,3,4],", kMiB) + "]<|/det|>";
    const Grounding g = parse(s);
    CHECK(g.boxes.size() == kMiB / 10 + 1);
    CHECK(issues(g) == std::vector<Issue>{Issue::list_syntax});  // the trailing comma
  }
  {
    const std::string s = "<|ref|>" + repeat("long label ", kMiB) + "<|/ref|><|det|>[" +
                          repeat("[1,2,3,4],", kMiB) + "[1,2,3,4]]<|/det|>";
    const Grounding g = parse(s);
    CHECK(g.ok());
    CHECK(g.boxes.size() > 100000);
    CHECK(g.refs.size() == 1);  // the label is stored once, not per box
  }
  for (const std::string_view piece : {"[1", "<|det|>", "<|ref|>", "<|/det|>", "<|det|>[1,", "<|", "-.+", "[[1,2,3,4]",
                                       "<|det|>1 ", "<|ref|>a<|det|>[[1,2,3,4]]"}) {
    const std::string s = repeat(piece, kMiB);
    const Grounding g = parse(s);
    CHECK(g.caption.size() <= s.size());
  }
}
