#pragma once
// The byte-level BPE model of a tokenizer.json ("model": {"type": "BPE", ...}): a vocabulary of
// byte-alphabet strings and a ranked list of merges. A pre-tokenized piece starts as one symbol
// per byte; the adjacent pair with the lowest merge rank (the leftmost among equals) is merged
// until no pair has a merge (Sennrich et al. 2016, as Hugging Face `tokenizers` applies it).

#include <algorithm>
#include <climits>
#include <functional>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/error.hpp"
#include "dsvl/io/byte_level.hpp"

namespace dsvl::io {

class BpeModel {
 public:
  static constexpr std::int64_t kMaxId = std::int64_t{1} << 22;  // far above any real vocabulary

  struct Scratch;  // working memory of encode(), reused across calls

  // `model` is the tokenizer.json "model" object; `where` names the file in errors.
  static BpeModel from_json(const nlohmann::json& model, const std::string& where) {
    BpeModel m;
    m.read_options(model, where);
    m.read_vocab(model, where);
    m.read_merges(model, where);
    return m;
  }

  // Appends the ids of one pre-tokenized piece, given as its raw bytes.
  void encode(std::string_view bytes, std::vector<std::int32_t>& out, Scratch& s) const;

  std::optional<std::int32_t> token_to_id(std::string_view token) const {
    const auto it = vocab_.find(std::string(token));
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
  }
  // The token spelled in the byte alphabet; nullptr for an id the vocabulary does not have.
  const std::string* id_to_token(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= tokens_.size() || !has_id_[id]) return nullptr;
    return &tokens_[static_cast<std::size_t>(id)];
  }
  // One past the largest id.
  std::size_t size() const noexcept { return tokens_.size(); }
  std::size_t merge_count() const noexcept { return merges_.size(); }

 private:
  // (left id, right id) -> (rank, merged id), open addressing with linear probing.
  class MergeTable {
   public:
    void reserve(std::size_t n) {
      std::size_t cap = 16;
      while (cap < 2 * n) cap *= 2;
      slots_.assign(cap, Slot{kEmpty, 0});
      shift_ = 64 - static_cast<int>(std::countr_zero(cap));
    }
    // A pair listed twice keeps its last rank, as in `tokenizers` (its merge map is collected
    // from the list in order).
    void insert(std::int32_t a, std::int32_t b, std::uint32_t rank, std::int32_t merged) {
      const std::uint64_t key = pack(a, b);
      for (std::size_t i = slot(key);; i = (i + 1) & (slots_.size() - 1)) {
        if (slots_[i].key == kEmpty) ++size_;
        if (slots_[i].key == kEmpty || slots_[i].key == key) {
          slots_[i] = {key, (std::uint64_t{rank} << 32) | static_cast<std::uint32_t>(merged)};
          return;
        }
      }
    }
    // (rank << 32 | merged id), or kNone.
    std::uint64_t find(std::int32_t a, std::int32_t b) const {
      const std::uint64_t key = pack(a, b);
      for (std::size_t i = slot(key);; i = (i + 1) & (slots_.size() - 1)) {
        if (slots_[i].key == key) return slots_[i].value;
        if (slots_[i].key == kEmpty) return kNone;
      }
    }
    std::size_t size() const noexcept { return size_; }
    static constexpr std::uint64_t kNone = ~std::uint64_t{0};

   private:
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
    struct Slot {
      std::uint64_t key, value;
    };
    static std::uint64_t pack(std::int32_t a, std::int32_t b) {
      return (std::uint64_t{static_cast<std::uint32_t>(a)} << 32) | static_cast<std::uint32_t>(b);
    }
    std::size_t slot(std::uint64_t key) const {
      return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
    }
    std::vector<Slot> slots_;
    int shift_ = 60;
    std::size_t size_ = 0;
  };

  void read_options(const nlohmann::json& model, const std::string& where) {
    const auto type = model.value("type", std::string("BPE"));
    if (type != "BPE") fail(where, "model type \"", type, "\" is not supported (only BPE)");
    auto is_unset = [&](const char* key) {
      const auto it = model.find(key);
      return it == model.end() || it->is_null() || (it->is_boolean() && !it->get<bool>()) ||
             (it->is_string() && it->get<std::string>().empty());
    };
    for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix",
                            "byte_fallback", "ignore_merges"}) {
      if (!is_unset(key))
        fail(where, "model.", key, " = ", model.at(key).dump(), " is not supported");
    }
    // An unk_token never applies: every byte of valid UTF-8 input is checked to have a symbol.
  }

  void read_vocab(const nlohmann::json& model, const std::string& where) {
    const auto it = model.find("vocab");
    if (it == model.end() || !it->is_object()) fail(where, "model.vocab is missing or not an object");
    vocab_.reserve(it->size());
    std::int64_t max_id = -1;
    for (const auto& [token, id] : it->items()) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > INT32_MAX)
        fail(where, "model.vocab[\"", token, "\"]: the id is not a non-negative 32-bit integer");
      max_id = std::max(max_id, id.get<std::int64_t>());
      vocab_.emplace(token, static_cast<std::int32_t>(id.get<std::int64_t>()));
    }
    if (max_id >= kMaxId) fail(where, "model.vocab: id ", max_id, " is implausibly large");
    tokens_.assign(static_cast<std::size_t>(max_id + 1), {});
    has_id_.assign(static_cast<std::size_t>(max_id + 1), false);
    for (const auto& [token, id] : vocab_) {
      if (has_id_[static_cast<std::size_t>(id)])
        fail(where, "model.vocab: id ", id, " is used by both \"", tokens_[id], "\" and \"", token,
             "\"");
      tokens_[static_cast<std::size_t>(id)] = token;
      has_id_[static_cast<std::size_t>(id)] = true;
    }
    for (unsigned b = 0; b < 256; ++b) {
      std::string spelled;
      utf8::append(spelled, byte_level::kByteToChar[b]);
      const auto id = token_to_id(spelled);
      byte_ids_[b] = id ? *id : -1;
    }
  }

  void read_merges(const nlohmann::json& model, const std::string& where) {
    const auto it = model.find("merges");
    if (it == model.end() || !it->is_array()) fail(where, "model.merges is missing or not an array");
    merges_.reserve(it->size());
    std::uint32_t rank = 0;
    std::string merged;
    for (const auto& m : *it) {
      std::string a, b;
      if (m.is_string()) {  // "left right"
        const auto& s = m.get_ref<const std::string&>();
        const auto sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          fail(where, "model.merges[", rank, "] = \"", s, "\" is not two tokens separated by a space");
        a = s.substr(0, sp), b = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get<std::string>(), b = m[1].get<std::string>();
      } else {
        fail(where, "model.merges[", rank, "] is neither \"a b\" nor [\"a\", \"b\"]");
      }
      const auto ia = token_to_id(a), ib = token_to_id(b);
      merged = a + b;
      const auto im = token_to_id(merged);
      if (!ia || !ib || !im)
        fail(where, "model.merges[", rank, "]: \"", !ia ? a : !ib ? b : merged,
             "\" is not in the vocabulary");
      merges_.insert(*ia, *ib, rank, *im);
      ++rank;
    }
  }

  std::unordered_map<std::string, std::int32_t> vocab_;
  std::vector<std::string> tokens_;
  std::vector<bool> has_id_;
  std::array<std::int32_t, 256> byte_ids_{};
  MergeTable merges_;
};

struct BpeModel::Scratch {
  struct Candidate {
    std::uint32_t rank;
    std::uint32_t pos;  // index of the left symbol
    std::int32_t left, right;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> next, prev;  // a linked list over the symbols; -1 ends it
  std::vector<Candidate> heap;           // a min-heap on (rank, pos)
};

inline void BpeModel::encode(std::string_view bytes, std::vector<std::int32_t>& out,
                             Scratch& s) const {
  const std::size_t n = bytes.size();
  s.ids.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    s.ids[i] = byte_ids_[b];
    if (s.ids[i] < 0) {
      std::string hex = "0x00";
      hex[2] = "0123456789ABCDEF"[b >> 4], hex[3] = "0123456789ABCDEF"[b & 15];
      fail("BPE model", "byte ", hex, " has no symbol in the vocabulary");
    }
  }
  if (n == 1) {
    out.push_back(s.ids[0]);
    return;
  }
  s.next.resize(n);
  s.prev.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    s.next[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
    s.prev[i] = static_cast<std::int32_t>(i) - 1;
  }
  auto& heap = s.heap;
  heap.clear();
  const auto greater = std::greater<Scratch::Candidate>{};
  auto consider = [&](std::int32_t pos) {
    if (pos < 0) return;
    const std::int32_t nx = s.next[static_cast<std::size_t>(pos)];
    if (nx < 0) return;
    const std::int32_t a = s.ids[static_cast<std::size_t>(pos)], b = s.ids[static_cast<std::size_t>(nx)];
    const std::uint64_t m = merges_.find(a, b);
    if (m == MergeTable::kNone) return;
    heap.push_back({static_cast<std::uint32_t>(m >> 32), static_cast<std::uint32_t>(pos), a, b});
    std::push_heap(heap.begin(), heap.end(), greater);
  };
  for (std::size_t i = 0; i + 1 < n; ++i) consider(static_cast<std::int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const Scratch::Candidate c = heap.back();
    heap.pop_back();
    const std::size_t pos = c.pos;
    const std::int32_t nx = s.next[pos];
    // Stale when either symbol changed since the pair was queued.
    if (s.ids[pos] != c.left || nx < 0 || s.ids[static_cast<std::size_t>(nx)] != c.right) continue;
    s.ids[pos] = static_cast<std::int32_t>(merges_.find(c.left, c.right) & 0xFFFFFFFFu);
    const std::int32_t after = s.next[static_cast<std::size_t>(nx)];
    s.next[pos] = after;
    if (after >= 0) s.prev[static_cast<std::size_t>(after)] = static_cast<std::int32_t>(pos);
    s.ids[static_cast<std::size_t>(nx)] = -1;  // removed
    consider(s.prev[pos]);
    consider(static_cast<std::int32_t>(pos));
  }
  for (std::int32_t i = 0; i >= 0; i = s.next[static_cast<std::size_t>(i)]) out.push_back(s.ids[i]);
}

}  // namespace dsvl::io
