#pragma once
// A byte-level BPE tokenizer read from a Hugging Face tokenizer.json, giving the ids the
// `tokenizers` library gives (the DeepSeek-LLM, DeepSeek-V2 and DeepSeek-V3 tokenizers of
// DeepSeek-VL and DeepSeek-VL2, and any tokenizer.json made of the same parts).
//
// encode: UTF-8 text -> added tokens cut out (added_vocabulary.hpp) -> each remaining segment
// pre-tokenized (pre_tokenizer.hpp) -> each piece through BPE (bpe.hpp) -> ids, with BOS/EOS
// when asked for. decode: ids -> the bytes each token stands for (byte_level.hpp) -> text, with
// invalid UTF-8 replaced by U+FFFD.
//
// Supported tokenizer.json parts: normalizer null or an empty Sequence; pre_tokenizer Sequence /
// Split / ByteLevel (ByteLevel last); model BPE without dropout, subword prefixes or byte
// fallback; decoder ByteLevel; post_processor null, ByteLevel or TemplateProcessing. Anything else
// is an error naming the file and the field.
//
// BOS/EOS: a tokenizer_config.json beside tokenizer.json decides, as transformers does, when it
// sets add_bos_token / add_eos_token or names a Llama tokenizer class (whose defaults are BOS
// yes, EOS no); otherwise the tokenizer.json post_processor does.

#include <atomic>
#include <cstddef>
#include <functional>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/error.hpp"
#include "dsvl/io/added_vocabulary.hpp"
#include "dsvl/io/bpe.hpp"
#include "dsvl/io/byte_level.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/io/pre_tokenizer.hpp"
#include "dsvl/io/utf8.hpp"

namespace dsvl::io {

class Tokenizer {
 public:
  // `path`: a tokenizer.json, or a folder holding one. A tokenizer_config.json in the same folder
  // is read when present.
  static Tokenizer from_file(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    const fs::path file = fs::is_directory(path) ? path / "tokenizer.json" : path;
    if (!fs::exists(file)) fail(file.string(), "no such file");
    const fs::path config = file.parent_path() / "tokenizer_config.json";
    const nlohmann::json cfg = fs::exists(config) ? read_json(config) : nlohmann::json();
    return from_json(read_json(file), cfg.is_null() ? nullptr : &cfg, file.string());
  }

  // `tokenizer`: the parsed tokenizer.json; `config`: the parsed tokenizer_config.json or null.
  // `where` names the source in errors.
  static Tokenizer from_json(const nlohmann::json& tokenizer, const nlohmann::json* config,
                             const std::string& where) {
    try {
      return build(tokenizer, config, where);
    } catch (const nlohmann::json::exception& e) {  // a field of an unexpected JSON type
      fail(where, "malformed tokenizer file: ", e.what());
    }
  }

 private:
  static Tokenizer build(const nlohmann::json& tokenizer, const nlohmann::json* config,
                         const std::string& where) {
    Tokenizer t;
    t.where_ = where;
    if (!tokenizer.is_object()) fail(where, "not a tokenizer.json object");
    check_normalizer(tokenizer, where);
    check_decoder(tokenizer, where);
    const auto model = tokenizer.find("model");
    if (model == tokenizer.end()) fail(where, "no \"model\"");
    t.bpe_ = BpeModel::from_json(*model, where);
    const auto pre = tokenizer.find("pre_tokenizer");
    if (pre == tokenizer.end() || pre->is_null())
      fail(where, "pre_tokenizer: a byte-level BPE needs the ByteLevel pre-tokenizer");
    t.pre_ = PreTokenizer::from_json(*pre, where);
    t.added_ = AddedVocabulary::from_json(tokenizer.value("added_tokens", nlohmann::json()), where);
    t.build_decode_table();
    t.read_post_processor(tokenizer.value("post_processor", nlohmann::json()), where);
    if (config) t.read_config(*config, where);
    return t;
  }

 public:
  // The ids of `text` (UTF-8). Special tokens written in the text are recognised, as Hugging Face
  // does by default. With `add_special_tokens`, BOS/EOS are added as the tokenizer says.
  std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = false) const {
    std::vector<std::int32_t> ids;
    encode(text, add_special_tokens, ids);
    return ids;
  }

  // Appends the ids of `text` to `out`.
  void encode(std::string_view text, bool add_special_tokens, std::vector<std::int32_t>& out) const {
    if (const std::size_t bad = utf8::first_invalid(text); bad != text.size())
      fail(where_, "the text to encode is not valid UTF-8 (at byte ", bad, ")");
    thread_local Scratch s;
    if (add_special_tokens) out.insert(out.end(), prefix_.begin(), prefix_.end());
    s.segments.clear();
    added_.split(text, s.segments);
    for (const auto& seg : s.segments) {
      if (seg.id >= 0) {
        out.push_back(seg.id);
        continue;
      }
      encode_segment(text.substr(seg.begin, seg.end - seg.begin), out, s);
    }
    if (add_special_tokens) out.insert(out.end(), suffix_.begin(), suffix_.end());
  }

  // The text of `ids`: the bytes of every token, with each invalid UTF-8 sequence replaced by
  // U+FFFD (as `tokenizers` decodes). An id the tokenizer does not have is an error.
  std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = false) const {
    std::string bytes;
    for (const std::int32_t id : ids) {
      if (skip_special_tokens && is_special(id)) continue;
      bytes += token_bytes(id);
    }
    return utf8::lossy(bytes);
  }

  // The bytes token `id` stands for; possibly part of a UTF-8 sequence.
  std::string_view token_bytes(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= decoded_.size() || kind_[id] == kNoToken)
      fail(where_, "token id ", id, " is not in the vocabulary (ids 0..", decoded_.size() - 1, ")");
    return decoded_[static_cast<std::size_t>(id)];
  }

  bool is_special(std::int32_t id) const {
    return id >= 0 && static_cast<std::size_t>(id) < kind_.size() && kind_[id] == kSpecial;
  }

  // A token's id: an added token by its content, or a vocabulary entry in its byte-alphabet
  // spelling ("Ġthe").
  std::optional<std::int32_t> token_to_id(std::string_view token) const {
    if (const auto id = added_.find(token)) return id;
    return bpe_.token_to_id(token);
  }
  // The inverse of token_to_id.
  std::optional<std::string> id_to_token(std::int32_t id) const {
    if (const AddedToken* a = added_.find(id)) return a->content;
    if (const std::string* s = bpe_.id_to_token(id)) return *s;
    return std::nullopt;
  }

  // One past the largest id.
  std::size_t vocab_size() const noexcept { return decoded_.size(); }
  const AddedVocabulary& added_tokens() const noexcept { return added_; }

  std::optional<std::int32_t> bos_id() const noexcept { return bos_; }
  std::optional<std::int32_t> eos_id() const noexcept { return eos_; }
  std::optional<std::int32_t> pad_id() const noexcept { return pad_; }

  // What encode(text, true) adds, and overrides of it.
  const std::vector<std::int32_t>& prefix_ids() const noexcept { return prefix_; }
  const std::vector<std::int32_t>& suffix_ids() const noexcept { return suffix_; }
  void set_add_bos(bool on) { prefix_ = special_list(on, bos_, "bos_token"); }
  void set_add_eos(bool on) { suffix_ = special_list(on, eos_, "eos_token"); }

  // The file it was read from.
  const std::string& source() const noexcept { return where_; }

 private:
  // Ids of recently seen pieces (words recur), direct-mapped by a hash of the piece. Per thread,
  // and tied to one tokenizer by its serial number.
  class PieceCache {
   public:
    static constexpr std::size_t kMaxPiece = 32;  // bytes; longer pieces are not kept

    // The entry for `piece`; `hit` tells whether it holds the piece's ids.
    std::vector<std::int32_t>& slot(std::uint64_t owner, std::string_view piece, bool& hit) {
      if (owner != owner_) {
        entries_.assign(kEntries, {});
        owner_ = owner;
      }
      Entry& e = entries_[std::hash<std::string_view>{}(piece) & (kEntries - 1)];
      hit = e.valid && e.piece == piece;
      if (!hit) {
        e.piece.assign(piece);
        e.ids.clear();
        e.valid = true;
      }
      return e.ids;
    }

   private:
    static constexpr std::size_t kEntries = 1 << 14;
    struct Entry {
      std::string piece;
      std::vector<std::int32_t> ids;
      bool valid = false;
    };
    std::vector<Entry> entries_;
    std::uint64_t owner_ = 0;
  };

  struct Scratch {
    std::vector<AddedVocabulary::Segment> segments;
    std::vector<char32_t> code_points;
    std::vector<std::uint32_t> offsets;  // byte offset of each code point, and the end
    std::vector<PreTokenizer::Piece> pieces;
    std::string bytes;
    BpeModel::Scratch bpe;
    PieceCache cache;
  };

  void encode_segment(std::string_view seg, std::vector<std::int32_t>& out, Scratch& s) const {
    s.code_points.clear();
    s.offsets.clear();
    for (std::size_t i = 0; i < seg.size();) {
      const auto st = utf8::next(seg.substr(i));
      s.code_points.push_back(st.code_point);
      s.offsets.push_back(static_cast<std::uint32_t>(i));
      i += static_cast<std::size_t>(st.length);
    }
    s.offsets.push_back(static_cast<std::uint32_t>(seg.size()));
    s.pieces.clear();
    pre_.split(s.code_points, s.pieces);
    for (const auto& p : s.pieces) {
      std::string_view piece = seg.substr(s.offsets[p.begin], s.offsets[p.end] - s.offsets[p.begin]);
      if (p.prefix_space) {
        s.bytes.assign(1, ' ');
        s.bytes += piece;
        piece = s.bytes;
      }
      if (piece.size() > PieceCache::kMaxPiece) {
        bpe_.encode(piece, out, s.bpe);
        continue;
      }
      bool hit;
      std::vector<std::int32_t>& ids = s.cache.slot(serial_, piece, hit);
      if (!hit) bpe_.encode(piece, ids, s.bpe);
      out.insert(out.end(), ids.begin(), ids.end());
    }
  }

  static void check_normalizer(const nlohmann::json& t, const std::string& where) {
    const auto n = t.find("normalizer");
    if (n == t.end() || n->is_null()) return;
    if (n->value("type", std::string()) == "Sequence" && n->contains("normalizers") &&
        (*n)["normalizers"].is_array() && (*n)["normalizers"].empty())
      return;
    fail(where, "normalizer ", n->dump().substr(0, 200),
         " is not supported (only none, or an empty Sequence)");
  }

  static void check_decoder(const nlohmann::json& t, const std::string& where) {
    const auto d = t.find("decoder");
    if (d == t.end() || d->is_null() || !d->is_object() ||
        d->value("type", std::string()) != "ByteLevel")
      fail(where, "decoder ", d == t.end() ? std::string("(none)") : d->dump().substr(0, 200),
           " is not supported (only ByteLevel)");
  }

  void read_post_processor(const nlohmann::json& p, const std::string& where) {
    if (p.is_null()) return;
    const auto type = p.value("type", std::string());
    if (type == "ByteLevel") return;  // offsets only
    if (type != "TemplateProcessing")
      fail(where, "post_processor type \"", type,
           "\" is not supported (only ByteLevel and TemplateProcessing)");
    const auto single = p.find("single");
    if (single == p.end() || !single->is_array())
      fail(where, "post_processor.single is not an array");
    bool seen_sequence = false;
    for (const auto& item : *single) {
      if (item.contains("Sequence")) {
        seen_sequence = true;
        continue;
      }
      const auto st = item.find("SpecialToken");
      if (st == item.end() || !st->contains("id") || !(*st)["id"].is_string())
        fail(where, "post_processor.single: an item is neither Sequence nor SpecialToken");
      const auto name = (*st)["id"].get<std::string>();
      const auto spec = p.find("special_tokens");
      if (spec == p.end() || !spec->contains(name) || !(*spec)[name].contains("ids"))
        fail(where, "post_processor.special_tokens has no ids for \"", name, "\"");
      auto& list = seen_sequence ? suffix_ : prefix_;
      for (const auto& id : (*spec)[name]["ids"]) {
        const auto v = id.get<std::int64_t>();
        if (v < 0 || static_cast<std::size_t>(v) >= kind_.size() || kind_[v] == kNoToken)
          fail(where, "post_processor.special_tokens[\"", name, "\"]: id ", v, " is not a token");
        list.push_back(static_cast<std::int32_t>(v));
      }
    }
    if (!seen_sequence) fail(where, "post_processor.single has no Sequence");
  }

  // tokenizer_config.json: the special tokens, and whether BOS / EOS are added.
  void read_config(const nlohmann::json& c, const std::string& where) {
    const std::string at = std::filesystem::path(where).parent_path().string() + "/tokenizer_config.json";
    bos_ = config_token(c, "bos_token", at);
    eos_ = config_token(c, "eos_token", at);
    pad_ = config_token(c, "pad_token", at);
    const auto cls = c.value("tokenizer_class", std::string());
    const bool llama = cls == "LlamaTokenizer" || cls == "LlamaTokenizerFast";
    if (llama || c.contains("add_bos_token")) {
      prefix_ = special_list(json_get_or<bool>(c, "add_bos_token", llama, at), bos_, "bos_token");
    }
    if (llama || c.contains("add_eos_token")) {
      suffix_ = special_list(json_get_or<bool>(c, "add_eos_token", false, at), eos_, "eos_token");
    }
  }

  std::optional<std::int32_t> config_token(const nlohmann::json& c, const char* key,
                                           const std::string& at) const {
    const auto it = c.find(key);
    if (it == c.end() || it->is_null()) return std::nullopt;
    std::string content;
    if (it->is_string()) {
      content = it->get<std::string>();
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      content = (*it)["content"].get<std::string>();
    } else {
      fail(at, key, " is neither a string nor an object with \"content\"");
    }
    const auto id = token_to_id(content);
    if (!id) fail(at, key, " \"", content, "\" is not a token of ", where_);
    return id;
  }

  std::vector<std::int32_t> special_list(bool on, std::optional<std::int32_t> id,
                                         const char* name) const {
    if (!on) return {};
    if (!id) fail(where_, "asked to add ", name, " but the tokenizer has none");
    return {*id};
  }

  void build_decode_table() {
    std::size_t size = bpe_.size();
    for (const auto& a : added_.tokens()) size = std::max(size, static_cast<std::size_t>(a.id) + 1);
    decoded_.assign(size, {});
    kind_.assign(size, kNoToken);
    for (std::size_t id = 0; id < bpe_.size(); ++id) {
      if (const std::string* tok = bpe_.id_to_token(static_cast<std::int32_t>(id))) {
        decoded_[id] = byte_level::decode(*tok).value_or(*tok);
        kind_[id] = kNormal;
      }
    }
    for (const auto& a : added_.tokens()) {
      decoded_[static_cast<std::size_t>(a.id)] = byte_level::decode(a.content).value_or(a.content);
      kind_[static_cast<std::size_t>(a.id)] = a.special ? kSpecial : kNormal;
    }
  }

  enum Kind : std::uint8_t { kNoToken, kNormal, kSpecial };

  static std::uint64_t next_serial() {
    static std::atomic<std::uint64_t> n{0};
    return ++n;
  }

  std::uint64_t serial_ = next_serial();  // a copy shares it: same vocabulary, same ids
  std::string where_;
  BpeModel bpe_;
  PreTokenizer pre_;
  AddedVocabulary added_;
  std::vector<std::string> decoded_;  // id -> the bytes it stands for
  std::vector<std::uint8_t> kind_;    // id -> Kind
  std::vector<std::int32_t> prefix_, suffix_;
  std::optional<std::int32_t> bos_, eos_, pad_;
};

}  // namespace dsvl::io
