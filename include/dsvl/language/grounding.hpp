#pragma once
// DeepSeek-VL2 grounding: the boxes in a decoded answer, in image pixels.
//
// The model writes `<|ref|>phrase<|/ref|><|det|>[[x1, y1, x2, y2], ...]<|/det|>`, with integer
// coordinates normalised to [0, 999] (x along the width, y along the height). After a prompt that
// starts with `<|grounding|>` it writes a grounded caption: prose with such markup inside it. A
// `<|det|>` may follow no `<|ref|>` (its boxes have no label) and a `<|ref|>` may have no `<|det|>`.
// Pixels follow the official demo (deepseek_vl2/serve/app_modules/utils.py, parse_ref_bbox):
//   x_px = int(x / 999 * W),  y_px = int(y / 999 * H)
// computed in double exactly as Python does, so 999 maps to W (pixel boxes are edge positions in
// [0, W] x [0, H]). W and H are the size of the image as given to the processor.
//
//   auto g = dsvl::language::parse_grounding(answer, 640, 480);
//   for (const auto& b : g.boxes) draw(b.pixels, g.label(b));
//   for (const auto& p : g.problems) log(dsvl::language::to_string(p));
//
// Model output is data, so malformed markup never throws: parsing is one pass, linear in the text,
// keeps every well-formed box and reports everything else as a GroundingProblem with its byte span.
// Only invalid arguments (an image side <= 0) throw dsvl::Error.
//
// What counts as a box, and what is kept:
// - A box is `[` four integers separated by commas `]`, whitespace allowed anywhere between them.
//   It is kept when every coordinate is in [0, 999], x1 <= x2 and y1 <= y2 (zero width or height
//   is allowed). Otherwise it is dropped and reported: a coordinate over 999 (runaway digits
//   included), a negative or non-integer one, other than four numbers, missing or extra commas, an
//   inverted box, a `[` without its `]` (the last number may have been cut short). Nothing is
//   clamped or swapped: the model's grid ends at 999 and its boxes run top-left to bottom-right, so
//   such a box is a failed generation, and a wrong box drawn is worse than a missing box reported.
// - Mistakes in the list around the boxes (missing or extra outer brackets, commas between boxes,
//   a list inside a box, a stray `]`) and in the tags (a missing `<|/det|>` or `<|/ref|>`, a stray
//   closing tag, an empty `<|det|>`) are reported but cost no well-formed box.
// - The content of a `<|det|>` ends at `<|/det|>`, at any other tag, at the end of the text, or at
//   the first character that cannot belong to a list of numbers (anything but ASCII digits,
//   whitespace and `[ ] , + - .`; after the outermost list has closed, also a number). In all but
//   the first case `<|/det|>` is reported missing, and the text after the last bracket, comma or
//   number is prose again.
// - A `<|ref|>` ends at `<|/ref|>`; at `<|det|>`, `<|ref|>` or the end of the text it ends too and
//   is reported unclosed. A `<|det|>` belongs to the `<|ref|>` just before it when only whitespace
//   and other `<|det|>`s of that ref lie between them; otherwise its boxes have no label.
//
// Offsets are bytes into the parsed text. Tags are matched as exact ASCII strings; other special
// tokens (e.g. the end-of-sentence token) are plain text. The caption keeps the phrases and the
// prose and drops the tags and the box lists; `<|grounding|>` is removed wherever it appears. The
// caption and the labels are valid UTF-8 whenever the text is.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"

namespace dsvl::language {

// The largest normalised coordinate: the model's grid is [0, kGroundingScale] on both axes.
inline constexpr int kGroundingScale = 999;

// A half-open byte range [begin, end) of a text.
struct TextSpan {
  std::size_t begin = 0;
  std::size_t end = 0;
  constexpr std::size_t size() const noexcept { return end - begin; }
  friend constexpr bool operator==(const TextSpan&, const TextSpan&) = default;
};

// Box corners: (x1, y1) top left, (x2, y2) bottom right.
struct Box {
  int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  friend constexpr bool operator==(const Box&, const Box&) = default;
};

// Index of "no ref" in GroundedBox::ref.
inline constexpr std::size_t kNoRef = static_cast<std::size_t>(-1);

struct GroundedBox {
  Box normalized;             // as written: each in [0, 999], x1 <= x2, y1 <= y2
  Box pixels;                 // to_pixels(normalized, W, H): in [0, W] x [0, H]
  std::size_t ref = kNoRef;   // index into Grounding::refs of its phrase, or kNoRef
  TextSpan source;            // "[x1, y1, x2, y2]" in the text, brackets included
  std::size_t caption_at = 0; // where its <|det|> was cut out of Grounding::caption (a byte offset)
};

// One `<|ref|>phrase<|/ref|>`.
struct GroundingRef {
  std::string label;          // the phrase as written, tags inside it removed
  TextSpan source;            // from `<|ref|>` to after `<|/ref|>`, or to where the ref was cut off
  TextSpan caption;           // where the label lies in Grounding::caption
};

enum class GroundingIssue : std::uint8_t {
  // A box dropped (source: the box, or the run of numbers outside any box):
  box_unclosed,   // a `[` holding numbers whose `]` never came
  box_syntax,     // numbers outside a box's brackets, or missing or extra commas in a box
  box_size,       // not exactly four numbers
  not_integer,    // a coordinate such as 0.5, +5 or 1-2
  negative,       // a coordinate below 0
  out_of_range,   // a coordinate over 999
  inverted,       // x2 < x1 or y2 < y1
  // Markup mistakes that cost no box:
  list_syntax,    // the list around the boxes is not [[...], [...]] (reported once per <|det|>)
  det_empty,      // a closed <|det|>...<|/det|> without any box or number
  det_unclosed,   // <|det|> not closed by <|/det|> (source: from <|det|> to where it ended)
  ref_unclosed,   // <|ref|> not closed by <|/ref|> (source: from <|ref|> to where it ended)
  stray_close,    // <|/ref|> or <|/det|> with no open tag (source: the tag; it is ignored)
};

struct GroundingProblem {
  GroundingIssue issue;
  TextSpan source;
  friend constexpr bool operator==(const GroundingProblem&, const GroundingProblem&) = default;
};

// True for the issues that dropped a box.
constexpr bool drops_box(GroundingIssue issue) noexcept { return issue < GroundingIssue::list_syntax; }

// One sentence for an issue.
constexpr std::string_view describe(GroundingIssue issue) noexcept {
  switch (issue) {
    case GroundingIssue::box_unclosed: return "box not closed by ']' (the text may have been cut off); dropped";
    case GroundingIssue::box_syntax: return "numbers outside a box's brackets, or missing or extra commas in a box; dropped";
    case GroundingIssue::box_size: return "box without exactly four numbers; dropped";
    case GroundingIssue::not_integer: return "box coordinate that is not an integer; box dropped";
    case GroundingIssue::negative: return "negative box coordinate; box dropped";
    case GroundingIssue::out_of_range: return "box coordinate over 999; box dropped";
    case GroundingIssue::inverted: return "box with x2 < x1 or y2 < y1; dropped";
    case GroundingIssue::list_syntax: return "brackets or commas around the boxes are not [[...], [...]]";
    case GroundingIssue::det_empty: return "<|det|> without a box";
    case GroundingIssue::det_unclosed: return "<|det|> not closed by <|/det|>";
    case GroundingIssue::ref_unclosed: return "<|ref|> not closed by <|/ref|>";
    case GroundingIssue::stray_close: return "closing tag without an opening tag; ignored";
  }
  return "unknown grounding issue";
}

// "bytes 12-20: <describe(issue)>".
inline std::string to_string(const GroundingProblem& p) {
  return dsvl::detail::concat("bytes ", p.source.begin, "-", p.source.end, ": ", describe(p.issue));
}

struct Grounding {
  std::vector<GroundedBox> boxes;          // well-formed boxes, in text order
  std::vector<GroundingRef> refs;          // every <|ref|>, in text order, with or without boxes
  std::string caption;                     // the text without tags and box lists
  std::vector<GroundingProblem> problems;  // by source.begin (ties in the order found)

  // The phrase of a box ("" when it has none), a view into `caption`.
  std::string_view label(const GroundedBox& box) const noexcept {
    if (box.ref >= refs.size()) return {};
    const TextSpan s = refs[box.ref].caption;
    return std::string_view(caption).substr(s.begin, s.size());
  }
  bool ok() const noexcept { return problems.empty(); }
};

// Normalised [0, 999] corners to pixel edges, as the official demo: int(v / 999 * side).
// Throws dsvl::Error when a side is <= 0 or a coordinate is outside [0, 999].
inline Box to_pixels(Box normalized, int image_width, int image_height) {
  constexpr const char* where = "language::to_pixels";
  DSVL_CHECK(image_width > 0 && image_height > 0, where, "image size ", image_width, "x", image_height,
             " must be positive");
  const auto in_grid = [](int v) { return 0 <= v && v <= kGroundingScale; };
  DSVL_CHECK(in_grid(normalized.x1) && in_grid(normalized.y1) && in_grid(normalized.x2) && in_grid(normalized.y2),
             where, "box [", normalized.x1, ", ", normalized.y1, ", ", normalized.x2, ", ", normalized.y2,
             "] has a coordinate outside [0, ", kGroundingScale, "]");
  const auto px = [](int v, int side) {
    return static_cast<int>(static_cast<double>(v) / static_cast<double>(kGroundingScale) * static_cast<double>(side));
  };
  return {px(normalized.x1, image_width), px(normalized.y1, image_height), px(normalized.x2, image_width),
          px(normalized.y2, image_height)};
}

namespace detail {

enum class GroundingTag : std::uint8_t { none, ref, ref_close, det, det_close, grounding };

inline constexpr std::string_view kRefTag = "<|ref|>";
inline constexpr std::string_view kRefCloseTag = "<|/ref|>";
inline constexpr std::string_view kDetTag = "<|det|>";
inline constexpr std::string_view kDetCloseTag = "<|/det|>";
inline constexpr std::string_view kGroundingTag = "<|grounding|>";

constexpr bool grounding_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
constexpr bool grounding_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool grounding_number_char(char c) noexcept {
  return grounding_digit(c) || c == '-' || c == '+' || c == '.';
}

class GroundingParser {
 public:
  GroundingParser(std::string_view text, int width, int height) : t_(text), width_(width), height_(height) {}

  Grounding run() && {
    const std::size_t n = t_.size();
    while (i_ < n) {
      const std::size_t lt = std::min(t_.find('<', i_), n);
      prose(i_, lt);
      i_ = lt;
      if (i_ == n) break;
      switch (const auto [tag, len] = match_tag(i_); tag) {
        case GroundingTag::none:
          prose(i_, i_ + 1);
          ++i_;
          break;
        case GroundingTag::grounding:
          i_ += len;
          break;
        case GroundingTag::ref:
          if (in_ref_) end_ref(i_, false);
          in_ref_ = true;
          ref_begin_ = i_;
          ref_caption_begin_ = out_.caption.size();
          attach_ = kNoRef;
          i_ += len;
          break;
        case GroundingTag::ref_close:
          if (in_ref_) {
            end_ref(i_ + len, true);
          } else {
            problem(GroundingIssue::stray_close, i_, i_ + len);
          }
          i_ += len;
          break;
        case GroundingTag::det_close:
          problem(GroundingIssue::stray_close, i_, i_ + len);
          i_ += len;
          break;
        case GroundingTag::det:
          if (in_ref_) end_ref(i_, false);
          det();
          break;
      }
    }
    if (in_ref_) end_ref(n, false);
    std::stable_sort(out_.problems.begin(), out_.problems.end(),
                     [](const GroundingProblem& a, const GroundingProblem& b) { return a.source.begin < b.source.begin; });
    return std::move(out_);
  }

 private:
  struct TagMatch {
    GroundingTag tag;
    std::size_t len;
  };

  TagMatch match_tag(std::size_t at) const noexcept {
    const std::string_view rest = t_.substr(at);
    if (rest.size() < 2 || rest[1] != '|') return {GroundingTag::none, 0};
    for (const auto& [tag, text] : {std::pair{GroundingTag::ref, kRefTag}, std::pair{GroundingTag::ref_close, kRefCloseTag},
                                    std::pair{GroundingTag::det, kDetTag}, std::pair{GroundingTag::det_close, kDetCloseTag},
                                    std::pair{GroundingTag::grounding, kGroundingTag}}) {
      if (rest.starts_with(text)) return {tag, text.size()};
    }
    return {GroundingTag::none, 0};
  }

  void prose(std::size_t begin, std::size_t end) {
    if (begin == end) return;
    const std::string_view s = t_.substr(begin, end - begin);
    out_.caption.append(s);
    if (attach_ != kNoRef && !std::all_of(s.begin(), s.end(), grounding_space)) attach_ = kNoRef;
  }

  void problem(GroundingIssue issue, std::size_t begin, std::size_t end) {
    out_.problems.push_back({issue, {begin, end}});
  }

  void end_ref(std::size_t end, bool closed) {
    const std::size_t cb = ref_caption_begin_, ce = out_.caption.size();
    out_.refs.push_back({out_.caption.substr(cb, ce - cb), {ref_begin_, end}, {cb, ce}});
    if (!closed) problem(GroundingIssue::ref_unclosed, ref_begin_, end);
    in_ref_ = false;
    attach_ = out_.refs.size() - 1;
  }

  // A box, or a run of numbers outside any box, being read.
  struct Candidate {
    bool open = false;
    bool bracketed = false;  // began with '[' (else: bare numbers)
    std::size_t begin = 0;
    std::size_t end = 0;     // after its last number
    std::size_t count = 0;   // numbers so far
    int v[4] = {0, 0, 0, 0};
    bool bad = false;
    GroundingIssue issue = GroundingIssue::box_syntax;  // the first thing wrong, when bad
    void flag(GroundingIssue what) {
      if (!bad) {
        bad = true;
        issue = what;
      }
    }
  };
  enum class Last : std::uint8_t { none, open, close, comma, number };

  // The content of one <|det|>; i_ is at the tag. Leaves i_ after <|/det|>, or where the content
  // ended (after its last significant character) when the tag is missing.
  void det() {
    const std::size_t det_begin = i_;
    const std::size_t ref = attach_;
    const std::size_t n = t_.size();
    i_ += kDetTag.size();
    std::size_t depth = 0;
    bool seen_list = false, any_numbers = false, list_reported = false;
    std::size_t sig_end = i_;  // after the last bracket, comma or number
    Last last = Last::none;
    Candidate c;

    const auto list_problem = [&](std::size_t begin, std::size_t end) {
      if (!list_reported) problem(GroundingIssue::list_syntax, begin, end);
      list_reported = true;
    };
    // Ends an open candidate that did not reach its ']'.
    const auto abandon = [&] {
      if (!c.open) return;
      if (c.bracketed && c.count > 0) {
        problem(GroundingIssue::box_unclosed, c.begin, c.end);
      } else if (!c.bracketed) {
        problem(GroundingIssue::box_syntax, c.begin, c.end);
      } else if (c.bad) {
        list_problem(c.begin, c.begin + 1);  // "[," : the candidate was a list with a stray comma
      }
      c.open = false;
    };
    // Closes a '[' candidate at the ']' at position `at`; depth still counts its '['.
    const auto close_box = [&](std::size_t at) {
      if (c.count == 0) {
        if (c.bad || depth >= 2) list_problem(c.begin, at + 1);  // "[,]", or "[]" inside a list
        return;
      }
      if (last == Last::comma) c.flag(GroundingIssue::box_syntax);
      if (!c.bad && c.count != 4) c.flag(GroundingIssue::box_size);
      if (!c.bad && (c.v[2] < c.v[0] || c.v[3] < c.v[1])) c.flag(GroundingIssue::inverted);
      if (c.bad) {
        problem(c.issue, c.begin, at + 1);
        return;
      }
      const Box b{c.v[0], c.v[1], c.v[2], c.v[3]};
      out_.boxes.push_back({b, to_pixels(b, width_, height_), ref, {c.begin, at + 1}, out_.caption.size()});
      if (depth != 2) list_problem(c.begin, at + 1);
    };
    // The content ended without <|/det|>.
    const auto unclosed = [&] {
      abandon();
      problem(GroundingIssue::det_unclosed, det_begin, sig_end);
      i_ = sig_end;
    };

    while (i_ < n) {
      const char ch = t_[i_];
      if (grounding_space(ch)) {
        ++i_;
        continue;
      }
      if (ch == '[') {
        if (c.open) {
          if (c.bracketed && c.count == 0) {
            if (c.bad) list_problem(c.begin, c.begin + 1);
          } else {
            const bool implicit_close = c.bracketed;
            abandon();
            if (implicit_close) --depth;  // a box missing its ']' ends here
          }
          c.open = false;
        } else if (last == Last::close) {
          list_problem(i_, i_ + 1);  // missing comma between items, or a second outer list
        }
        ++depth;
        seen_list = true;
        c = Candidate{};
        c.open = true;
        c.bracketed = true;
        c.begin = i_;
        last = Last::open;
        sig_end = ++i_;
        continue;
      }
      if (ch == ']') {
        if (c.open && c.bracketed) {
          close_box(i_);
          c.open = false;
          --depth;
        } else {
          abandon();
          if (depth == 0) {
            list_problem(i_, i_ + 1);  // stray ']'
          } else {
            if (last == Last::comma) list_problem(i_, i_ + 1);  // trailing comma in a list
            --depth;
          }
        }
        last = Last::close;
        sig_end = ++i_;
        continue;
      }
      if (ch == ',') {
        if (c.open) {
          if (last != Last::number) c.flag(GroundingIssue::box_syntax);
        } else if (last != Last::close) {
          list_problem(i_, i_ + 1);
        }
        last = Last::comma;
        sig_end = ++i_;
        continue;
      }
      if (grounding_number_char(ch) && !(depth == 0 && seen_list)) {
        std::size_t j = i_;
        while (j < n && grounding_number_char(t_[j])) ++j;
        if (!c.open) {
          c = Candidate{};
          c.open = true;
          c.begin = i_;
        } else if (last == Last::number) {
          c.flag(GroundingIssue::box_syntax);  // missing comma
        }
        any_numbers = true;
        number(c, i_, j);
        c.end = j;
        last = Last::number;
        sig_end = i_ = j;
        continue;
      }
      if (ch == '<' && match_tag(i_).tag == GroundingTag::det_close) {
        abandon();
        if (depth > 0) list_problem(i_, i_ + kDetCloseTag.size());  // an outer list left open
        i_ += kDetCloseTag.size();
        if (!any_numbers) problem(GroundingIssue::det_empty, det_begin, i_);
        return;
      }
      unclosed();  // another tag, or a character that cannot belong to the list
      return;
    }
    unclosed();  // end of text
  }

  // One run of number characters [b, e), added to the candidate.
  void number(Candidate& c, std::size_t b, std::size_t e) {
    const std::string_view s = t_.substr(b, e - b);
    const bool neg = s[0] == '-';
    const std::string_view digits = neg ? s.substr(1) : s;
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), grounding_digit)) {
      c.flag(GroundingIssue::not_integer);
    } else if (neg) {
      c.flag(GroundingIssue::negative);
    } else {
      int v = 0;
      for (const char d : digits) {
        v = v * 10 + (d - '0');
        if (v > kGroundingScale) break;  // runaway digits stop here
      }
      if (v > kGroundingScale) c.flag(GroundingIssue::out_of_range);
      if (c.count < 4) c.v[c.count] = v;
    }
    ++c.count;
  }

  std::string_view t_;
  int width_, height_;
  Grounding out_;
  std::size_t i_ = 0;
  bool in_ref_ = false;
  std::size_t ref_begin_ = 0, ref_caption_begin_ = 0;
  std::size_t attach_ = kNoRef;  // the ref a <|det|> here would belong to
};

}  // namespace detail

// Parses a decoded answer (UTF-8, special tokens as their text) for an image of
// image_width x image_height pixels. Throws dsvl::Error only when a side is <= 0.
inline Grounding parse_grounding(std::string_view text, int image_width, int image_height) {
  DSVL_CHECK(image_width > 0 && image_height > 0, "language::parse_grounding", "image size ", image_width, "x",
             image_height, " must be positive");
  return detail::GroundingParser(text, image_width, image_height).run();
}

}  // namespace dsvl::language
