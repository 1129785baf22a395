#pragma once
// Added tokens (tokenizer.json "added_tokens"): strings cut out of the input before
// pre-tokenization and BPE, each becoming its own id, as Hugging Face `tokenizers` does it:
//   - matches are leftmost-longest; tokens with "normalized": false are matched on the input
//     first, then those with "normalized": true on what is left between those matches;
//   - "single_word": a match touching a word character (\w) on either side is skipped;
//   - "lstrip" / "rstrip": the match takes in the White_Space before / after it, but never text
//     an earlier match took.
// Special and non-special tokens are matched alike; "special" matters when decoding.

#include <algorithm>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/error.hpp"
#include "dsvl/io/bpe.hpp"
#include "dsvl/io/unicode.hpp"
#include "dsvl/io/utf8.hpp"

namespace dsvl::io {

struct AddedToken {
  std::int32_t id = -1;
  std::string content;
  bool special = false;
  bool normalized = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

class AddedVocabulary {
 public:
  // A byte range of the text and, for an added-token match, its id (-1: text to pre-tokenize).
  struct Segment {
    std::size_t begin, end;
    std::int32_t id;
  };

  // `tokens`: the tokenizer.json "added_tokens" array. `where` names the file in errors.
  static AddedVocabulary from_json(const nlohmann::json& tokens, const std::string& where) {
    AddedVocabulary v;
    if (tokens.is_null()) return v;
    if (!tokens.is_array()) fail(where, "added_tokens is not an array");
    for (std::size_t k = 0; k < tokens.size(); ++k) {
      const auto& t = tokens[k];
      const std::string at = "added_tokens[" + std::to_string(k) + "]";
      if (!t.is_object() || !t.contains("id") || !t.contains("content") ||
          !t["id"].is_number_integer() || !t["content"].is_string())
        fail(where, at, " needs an integer \"id\" and a string \"content\"");
      AddedToken a;
      const auto id = t["id"].get<std::int64_t>();
      if (id < 0 || id >= BpeModel::kMaxId) fail(where, at, ": id ", id, " out of range");
      a.id = static_cast<std::int32_t>(id);
      a.content = t["content"].get<std::string>();
      if (a.content.empty()) fail(where, at, ": empty content");
      if (utf8::first_invalid(a.content) != a.content.size())
        fail(where, at, ": content is not valid UTF-8");
      auto flag = [&](const char* key, bool fallback) {
        const auto it = t.find(key);
        if (it == t.end()) return fallback;
        if (!it->is_boolean()) fail(where, at, ".", key, " is not a boolean");
        return it->get<bool>();
      };
      a.special = flag("special", false);
      a.normalized = flag("normalized", !a.special);
      a.lstrip = flag("lstrip", false);
      a.rstrip = flag("rstrip", false);
      a.single_word = flag("single_word", false);
      v.add(std::move(a), where);
    }
    return v;
  }

  // Splits text[begin, end) into segments, appending them to `out`.
  void split(std::string_view text, std::vector<Segment>& out) const {
    std::vector<Segment> raw;
    raw_.split(*this, text, 0, text.size(), raw);
    for (const Segment& s : raw) {
      if (s.id >= 0)
        out.push_back(s);
      else
        normalized_.split(*this, text, s.begin, s.end, out);
    }
  }

  const AddedToken* find(std::int32_t id) const {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &tokens_[it->second];
  }
  std::optional<std::int32_t> find(std::string_view content) const {
    const auto it = by_content_.find(std::string(content));
    if (it == by_content_.end()) return std::nullopt;
    return tokens_[it->second].id;
  }
  const std::vector<AddedToken>& tokens() const noexcept { return tokens_; }
  bool empty() const noexcept { return tokens_.empty(); }

 private:
  // A byte trie of the token contents with a leftmost-longest scan.
  class Trie {
   public:
    void insert(std::string_view s, std::size_t token) {
      std::uint32_t node = 0;
      first_byte_.set(static_cast<unsigned char>(s[0]));
      for (const char ch : s) {
        const std::uint64_t key = (std::uint64_t{node} << 8) | static_cast<unsigned char>(ch);
        auto it = edges_.find(key);
        if (it == edges_.end()) {
          it = edges_.emplace(key, static_cast<std::uint32_t>(terminal_.size())).first;
          terminal_.push_back(kNoToken);
        }
        node = it->second;
      }
      terminal_[node] = token;
    }

    // Segments of text[begin, end) as AddedVocabulary::split describes.
    void split(const AddedVocabulary& v, std::string_view text, std::size_t begin, std::size_t end,
               std::vector<Segment>& out) const {
      const std::string_view piece = text.substr(begin, end - begin);
      std::size_t taken = 0;  // offset in `piece` up to which segments were emitted
      std::size_t pos = 0;
      while (pos < piece.size()) {
        const auto m = longest_at_or_after(piece, pos);
        if (!m) break;
        auto [start, stop, token_index] = *m;
        pos = stop;  // the scan goes on after the match itself, whatever is done with it
        const AddedToken& t = v.tokens_[token_index];
        if (t.single_word && (touches_word_before(piece, start) || touches_word_after(piece, stop)))
          continue;
        if (t.lstrip) start = std::max(taken, white_space_start_before(piece, start));
        if (t.rstrip) stop = white_space_end_after(piece, stop);
        if (taken < start) out.push_back({begin + taken, begin + start, -1});
        out.push_back({begin + start, begin + stop, t.id});
        taken = stop;
      }
      if (taken < piece.size()) out.push_back({begin + taken, begin + piece.size(), -1});
    }

   private:
    struct Found {
      std::size_t start, stop, token;
    };
    std::optional<Found> longest_at_or_after(std::string_view s, std::size_t from) const {
      if (terminal_.size() <= 1) return std::nullopt;
      for (std::size_t start = from; start < s.size(); ++start) {
        if (!first_byte_.test(static_cast<unsigned char>(s[start]))) continue;
        std::uint32_t node = 0;
        std::optional<Found> best;
        for (std::size_t i = start; i < s.size(); ++i) {
          const auto it =
              edges_.find((std::uint64_t{node} << 8) | static_cast<unsigned char>(s[i]));
          if (it == edges_.end()) break;
          node = it->second;
          if (terminal_[node] != kNoToken) best = Found{start, i + 1, terminal_[node]};
        }
        if (best) return best;
      }
      return std::nullopt;
    }

    static constexpr std::size_t kNoToken = ~std::size_t{0};
    std::unordered_map<std::uint64_t, std::uint32_t> edges_;  // (node << 8 | byte) -> node
    std::vector<std::size_t> terminal_{kNoToken};            // node -> token index; 0 is the root
    std::bitset<256> first_byte_;
  };

  // The code point that ends s[0, pos) / starts s[pos, ...); s is valid UTF-8.
  static char32_t char_before(std::string_view s, std::size_t pos) {
    std::size_t i = pos - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    return utf8::next(s.substr(i)).code_point;
  }
  static bool touches_word_before(std::string_view s, std::size_t pos) {
    return pos > 0 && unicode::is_word(char_before(s, pos));
  }
  static bool touches_word_after(std::string_view s, std::size_t pos) {
    return pos < s.size() && unicode::is_word(utf8::next(s.substr(pos)).code_point);
  }
  static std::size_t white_space_start_before(std::string_view s, std::size_t pos) {
    while (pos > 0) {
      std::size_t i = pos - 1;
      while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
      if (!unicode::is_white_space(utf8::next(s.substr(i)).code_point)) break;
      pos = i;
    }
    return pos;
  }
  static std::size_t white_space_end_after(std::string_view s, std::size_t pos) {
    while (pos < s.size()) {
      const auto st = utf8::next(s.substr(pos));
      if (!unicode::is_white_space(st.code_point)) break;
      pos += static_cast<std::size_t>(st.length);
    }
    return pos;
  }

  void add(AddedToken a, const std::string& where) {
    if (by_content_.count(a.content))
      fail(where, "added token \"", a.content, "\" is listed twice");
    if (by_id_.count(a.id)) fail(where, "added token id ", a.id, " is listed twice");
    const std::size_t index = tokens_.size();
    (a.normalized ? normalized_ : raw_).insert(a.content, index);
    by_content_.emplace(a.content, index);
    by_id_.emplace(a.id, index);
    tokens_.push_back(std::move(a));
  }

  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, std::size_t> by_content_;
  std::unordered_map<std::int32_t, std::size_t> by_id_;
  Trie raw_, normalized_;
};

}  // namespace dsvl::io
