#pragma once
// The pre-tokenizer of a tokenizer.json: a `Sequence` of `Split` steps ending in `ByteLevel`, as
// the DeepSeek tokenizers have it, applied the Hugging Face way: each step splits every current
// piece on its own, so a pattern never sees past the ends of its piece (`\s+$` anchors at the end
// of the piece, `(?!\S)` cannot look into the next one) and pieces are never joined again.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/error.hpp"
#include "dsvl/io/regex.hpp"

namespace dsvl::io {

class PreTokenizer {
 public:
  // A piece of the segment being pre-tokenized: code points [begin, end), preceded by a space
  // that ByteLevel's add_prefix_space added when `prefix_space` is set.
  struct Piece {
    std::uint32_t begin, end;
    bool prefix_space = false;
  };

  // `j` is the tokenizer.json "pre_tokenizer" value; `where` names the file in errors.
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& where) {
    PreTokenizer p;
    p.add(j, where, "pre_tokenizer");
    if (p.steps_.empty() || p.steps_.back().kind != Step::kByteLevel)
      fail(where, "pre_tokenizer: a byte-level BPE needs the ByteLevel pre-tokenizer as the last step");
    for (std::size_t k = 0; k + 1 < p.steps_.size(); ++k)
      if (p.steps_[k].kind == Step::kByteLevel)
        fail(where, "pre_tokenizer: ByteLevel is supported only as the last step");
    return p;
  }

  // Pre-tokenizes the code points `text` (one segment between added tokens) into `out`.
  void split(std::span<const char32_t> text, std::vector<Piece>& out) const {
    std::vector<Piece> current, next;
    current.push_back({0, static_cast<std::uint32_t>(text.size())});
    std::vector<std::pair<Piece, bool>> parts;  // (range, is_match)
    std::u32string prefixed;
    for (const Step& step : steps_) {
      next.clear();
      for (const Piece& piece : current) {
        if (step.kind == Step::kByteLevel) {
          byte_level(step, text, piece, next, prefixed);
          continue;
        }
        parts.clear();
        std::uint32_t prev = piece.begin;
        step.regex.for_each_match(text.subspan(piece.begin, piece.end - piece.begin),
                                  [&](const Regex::Match& m) {
                                    const auto b = piece.begin + static_cast<std::uint32_t>(m.begin);
                                    const auto e = piece.begin + static_cast<std::uint32_t>(m.end);
                                    if (prev != b) parts.push_back({{prev, b}, false});
                                    parts.push_back({{b, e}, true});
                                    prev = e;
                                  });
        if (prev != piece.end) parts.push_back({{prev, piece.end}, false});
        apply_behavior(step, parts, next);
      }
      std::swap(current, next);
    }
    out.insert(out.end(), current.begin(), current.end());
  }

 private:
  enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

  struct Step {
    enum Kind { kSplit, kByteLevel } kind;
    Regex regex;
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;
    bool use_regex = false;
  };

  // GPT-2's pattern, which ByteLevel applies when "use_regex" is true.
  static constexpr const char* kGpt2Pattern =
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

  static bool get_bool(const nlohmann::json& j, const char* key, bool fallback,
                       const std::string& where, const std::string& at) {
    const auto it = j.find(key);
    if (it == j.end()) return fallback;
    if (!it->is_boolean()) fail(where, at, ".", key, " is not a boolean");
    return it->get<bool>();
  }

  static std::string escape(const std::string& literal) {
    std::string out;
    for (const char c : literal) {
      if (std::string_view("\\.+*?()|[]{}^$#&-~").find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
    return out;
  }

  void add(const nlohmann::json& j, const std::string& where, const std::string& at) {
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
      fail(where, at, " is not an object with a \"type\"");
    const auto type = j["type"].get<std::string>();
    if (type == "Sequence") {
      const auto it = j.find("pretokenizers");
      if (it == j.end() || !it->is_array()) fail(where, at, ".pretokenizers is not an array");
      for (std::size_t k = 0; k < it->size(); ++k)
        add((*it)[k], where, at + ".pretokenizers[" + std::to_string(k) + "]");
    } else if (type == "Split") {
      const auto pat = j.find("pattern");
      if (pat == j.end() || !pat->is_object() || pat->size() != 1)
        fail(where, at, ".pattern must be {\"Regex\": ...} or {\"String\": ...}");
      std::string pattern;
      if (pat->contains("Regex") && (*pat)["Regex"].is_string()) {
        pattern = (*pat)["Regex"].get<std::string>();
      } else if (pat->contains("String") && (*pat)["String"].is_string()) {
        pattern = escape((*pat)["String"].get<std::string>());
      } else {
        fail(where, at, ".pattern must be {\"Regex\": ...} or {\"String\": ...}");
      }
      Step s{Step::kSplit, make_regex(pattern, where, at)};
      const auto behavior = j.value("behavior", std::string("Isolated"));
      if (behavior == "Removed") s.behavior = Behavior::kRemoved;
      else if (behavior == "Isolated") s.behavior = Behavior::kIsolated;
      else if (behavior == "MergedWithPrevious") s.behavior = Behavior::kMergedWithPrevious;
      else if (behavior == "MergedWithNext") s.behavior = Behavior::kMergedWithNext;
      else if (behavior == "Contiguous") s.behavior = Behavior::kContiguous;
      else fail(where, at, ".behavior \"", behavior, "\" is unknown");
      s.invert = get_bool(j, "invert", false, where, at);
      steps_.push_back(std::move(s));
    } else if (type == "ByteLevel") {
      Step s{Step::kByteLevel, Regex(kGpt2Pattern)};
      s.add_prefix_space = get_bool(j, "add_prefix_space", true, where, at);
      s.use_regex = get_bool(j, "use_regex", true, where, at);
      steps_.push_back(std::move(s));
    } else {
      fail(where, at, ": pre-tokenizer type \"", type,
           "\" is not supported (supported: Sequence, Split, ByteLevel)");
    }
  }

  static Regex make_regex(const std::string& pattern, const std::string& where,
                          const std::string& at) {
    try {
      return Regex(pattern);
    } catch (const Error& e) {
      fail(where, at, ": ", e.what());
    }
  }

  // Hugging Face's SplitDelimiterBehavior over the (range, is_match) parts of one piece.
  static void apply_behavior(const Step& step, std::vector<std::pair<Piece, bool>>& parts,
                             std::vector<Piece>& out) {
    if (step.invert)
      for (auto& p : parts) p.second = !p.second;
    const std::size_t first = out.size();
    bool previous_match = false;
    switch (step.behavior) {
      case Behavior::kIsolated:
        for (const auto& p : parts) out.push_back(p.first);
        break;
      case Behavior::kRemoved:
        for (const auto& p : parts)
          if (!p.second) out.push_back(p.first);
        break;
      case Behavior::kContiguous:
        for (const auto& [r, is_match] : parts) {
          if (is_match == previous_match && out.size() > first) out.back().end = r.end;
          else out.push_back(r);
          previous_match = is_match;
        }
        break;
      case Behavior::kMergedWithPrevious:
        for (const auto& [r, is_match] : parts) {
          if (is_match && !previous_match && out.size() > first) out.back().end = r.end;
          else out.push_back(r);
          previous_match = is_match;
        }
        break;
      case Behavior::kMergedWithNext: {
        std::vector<Piece> rev;
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
          const auto& [r, is_match] = *it;
          if (is_match && !previous_match && !rev.empty()) rev.back().begin = r.begin;
          else rev.push_back(r);
          previous_match = is_match;
        }
        out.insert(out.end(), rev.rbegin(), rev.rend());
        break;
      }
    }
  }

  void byte_level(const Step& step, std::span<const char32_t> text, const Piece& piece,
                  std::vector<Piece>& out, std::u32string& prefixed) const {
    const bool add_space =
        step.add_prefix_space && (piece.begin == piece.end || text[piece.begin] != U' ');
    if (!step.use_regex) {
      out.push_back({piece.begin, piece.end, add_space});
      return;
    }
    std::span<const char32_t> subject = text.subspan(piece.begin, piece.end - piece.begin);
    if (add_space) {
      prefixed.assign(1, U' ');
      prefixed.append(subject.begin(), subject.end());
      subject = prefixed;
    }
    // Positions in `subject` back to code points of `text`; position 0 of a prefixed subject is
    // the added space.
    const std::uint32_t shift = add_space ? 1 : 0;
    auto emit = [&](std::size_t b, std::size_t e) {
      const bool has_space = add_space && b == 0;
      out.push_back({piece.begin + static_cast<std::uint32_t>(b) - (has_space ? 0 : shift),
                     piece.begin + static_cast<std::uint32_t>(e) - shift, has_space});
    };
    std::size_t prev = 0;
    step.regex.for_each_match(subject, [&](const Regex::Match& m) {
      if (prev != m.begin) emit(prev, m.begin);
      emit(m.begin, m.end);
      prev = m.end;
    });
    if (prev != subject.size()) emit(prev, subject.size());
  }

  std::vector<Step> steps_;
};

}  // namespace dsvl::io
