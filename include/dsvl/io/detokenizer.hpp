#pragma once
// Streaming detokenization: text handed out as ids arrive, never half a UTF-8 character. A token
// may stand for part of a character (byte-level BPE splits rare characters into bytes), so the
// bytes of an unfinished character wait for the next ids. The concatenated output equals
// Tokenizer::decode of all the ids at once, U+FFFD replacements included.

#include <cstdint>
#include <string>

#include "dsvl/io/tokenizer.hpp"
#include "dsvl/io/utf8.hpp"

namespace dsvl::io {

class Detokenizer {
 public:
  explicit Detokenizer(const Tokenizer& tokenizer, bool skip_special_tokens = false)
      : tokenizer_(&tokenizer), skip_special_(skip_special_tokens) {}

  // The text that `id` completes (often empty or one token's text; possibly several characters
  // that earlier ids began).
  std::string push(std::int32_t id) {
    std::string out;
    if (skip_special_ && tokenizer_->is_special(id)) return out;
    pending_ += tokenizer_->token_bytes(id);
    pending_.erase(0, utf8::append_lossy(out, pending_, /*final_chunk=*/false));
    return out;
  }

  // The rest, at the end of the stream: an unfinished character becomes U+FFFD.
  std::string finish() {
    std::string out = utf8::lossy(pending_);
    pending_.clear();
    return out;
  }

  // Bytes waiting for the rest of their character.
  std::size_t pending_bytes() const noexcept { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace dsvl::io
