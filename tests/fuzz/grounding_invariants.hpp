#pragma once
// What every result of language::parse_grounding must satisfy, whatever the text. Shared by the
// grounding fuzz target and the unit tests: returns "" when all hold, else the first violation.

#include <cstddef>
#include <string>
#include <string_view>

#include "dsvl/language/grounding.hpp"

namespace dsvl_test {

// True when s is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    unsigned cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07u;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const unsigned min_cp = len == 2 ? 0x80u : len == 3 ? 0x800u : 0x10000u;
    if (cp < min_cp || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu)) return false;
    i += len;
  }
  return true;
}

inline std::string grounding_violation(std::string_view text, const dsvl::language::Grounding& g, int width,
                                       int height) {
  using namespace dsvl::language;
  const auto span_ok = [&](TextSpan s, std::size_t size) { return s.begin <= s.end && s.end <= size; };
  const auto where = [](const char* what, std::size_t k) { return std::string(what) + " " + std::to_string(k) + ": "; };

  for (std::size_t k = 0; k < g.boxes.size(); ++k) {
    const GroundedBox& b = g.boxes[k];
    const Box& n = b.normalized;
    if (!(0 <= n.x1 && n.x1 <= n.x2 && n.x2 <= kGroundingScale && 0 <= n.y1 && n.y1 <= n.y2 &&
          n.y2 <= kGroundingScale))
      return where("box", k) + "normalized corners out of order or outside [0, 999]";
    if (!(b.pixels == to_pixels(n, width, height))) return where("box", k) + "pixels differ from to_pixels";
    const Box& p = b.pixels;
    if (!(0 <= p.x1 && p.x1 <= p.x2 && p.x2 <= width && 0 <= p.y1 && p.y1 <= p.y2 && p.y2 <= height))
      return where("box", k) + "pixels outside the image";
    if (!span_ok(b.source, text.size()) || b.source.size() < 9) return where("box", k) + "bad source span";
    const std::string_view src = text.substr(b.source.begin, b.source.size());
    if (src.front() != '[' || src.back() != ']') return where("box", k) + "source is not [...]";
    // The source holds exactly the four numbers, as written.
    int values[4] = {0, 0, 0, 0}, count = 0;
    for (std::size_t i = 0; i < src.size();) {
      if (src[i] < '0' || src[i] > '9') {
        ++i;
        continue;
      }
      long long v = 0;
      while (i < src.size() && src[i] >= '0' && src[i] <= '9' && v <= 999) v = v * 10 + (src[i++] - '0');
      if (count == 4 || v > 999) return where("box", k) + "source does not hold four numbers in [0, 999]";
      values[count++] = static_cast<int>(v);
    }
    if (count != 4 || !(Box{values[0], values[1], values[2], values[3]} == n))
      return where("box", k) + "normalized differs from the source text";
    if (k > 0 && b.source.begin < g.boxes[k - 1].source.end) return where("box", k) + "boxes overlap or out of order";
    if (b.caption_at > g.caption.size() || (k > 0 && b.caption_at < g.boxes[k - 1].caption_at))
      return where("box", k) + "caption_at outside the caption or out of order";
    if (b.ref != kNoRef && b.ref < g.refs.size() && b.caption_at < g.refs[b.ref].caption.end)
      return where("box", k) + "caption_at before the end of its ref's label";
    if (b.ref != kNoRef) {
      if (b.ref >= g.refs.size()) return where("box", k) + "ref index out of range";
      if (g.refs[b.ref].source.end > b.source.begin) return where("box", k) + "its ref ends after the box begins";
      // label() is the ref's caption span (whose text the ref loop compares with the label once).
      const std::string_view label = g.label(b);
      const TextSpan c = g.refs[b.ref].caption;
      if (label.data() != g.caption.data() + c.begin || label.size() != c.size())
        return where("box", k) + "label() is not its ref's caption span";
    } else if (!g.label(b).empty()) {
      return where("box", k) + "label of a box without ref is not empty";
    }
  }

  for (std::size_t k = 0; k < g.refs.size(); ++k) {
    const GroundingRef& r = g.refs[k];
    if (!span_ok(r.source, text.size()) || !text.substr(r.source.begin).starts_with("<|ref|>"))
      return where("ref", k) + "bad source span";
    if (!span_ok(r.caption, g.caption.size())) return where("ref", k) + "bad caption span";
    if (g.caption.substr(r.caption.begin, r.caption.size()) != r.label) return where("ref", k) + "label not in caption";
    if (k > 0 && (r.source.begin < g.refs[k - 1].source.end || r.caption.begin < g.refs[k - 1].caption.end))
      return where("ref", k) + "refs overlap or out of order";
  }

  for (std::size_t k = 0; k < g.problems.size(); ++k) {
    const GroundingProblem& p = g.problems[k];
    if (!span_ok(p.source, text.size())) return where("problem", k) + "bad source span";
    if (static_cast<int>(p.issue) > static_cast<int>(GroundingIssue::stray_close))
      return where("problem", k) + "unknown issue";
    if (k > 0 && p.source.begin < g.problems[k - 1].source.begin) return where("problem", k) + "out of order";
  }

  if (g.caption.size() > text.size()) return "caption longer than the text";
  if (valid_utf8(text) && !valid_utf8(g.caption)) return "valid UTF-8 text gave an invalid caption";
  if (g.ok() != g.problems.empty()) return "ok() disagrees with problems";
  return {};
}

}  // namespace dsvl_test
