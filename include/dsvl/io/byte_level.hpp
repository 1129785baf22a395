#pragma once
// GPT-2's byte-level alphabet: each of the 256 byte values stands for one printable Unicode
// character, so that byte strings can be BPE vocabulary entries. Printable Latin-1 bytes
// (0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF) stand for themselves; the other 68 take U+0100, U+0101, ...
// in byte order (so the space 0x20 is U+0120 'Ġ' and the newline 0x0A is U+010A 'Ċ').

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dsvl/io/utf8.hpp"

namespace dsvl::io::byte_level {

inline constexpr bool stands_for_itself(unsigned b) noexcept {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

inline constexpr std::array<char32_t, 256> kByteToChar = [] {
  std::array<char32_t, 256> t{};
  char32_t next = 0x100;
  for (unsigned b = 0; b < 256; ++b) t[b] = stands_for_itself(b) ? b : next++;
  return t;
}();

// The byte a character of the alphabet stands for; nullopt for any other character.
inline constexpr std::optional<std::uint8_t> char_to_byte(char32_t c) noexcept {
  if (c < 256) {
    if (stands_for_itself(static_cast<unsigned>(c))) return static_cast<std::uint8_t>(c);
    return std::nullopt;
  }
  for (unsigned b = 0; b < 256; ++b)
    if (kByteToChar[b] == c) return static_cast<std::uint8_t>(b);
  return std::nullopt;
}

// The alphabet's spelling of a byte string (what a vocabulary entry looks like).
inline std::string encode(std::string_view bytes) {
  std::string out;
  for (const char ch : bytes) utf8::append(out, kByteToChar[static_cast<unsigned char>(ch)]);
  return out;
}

// The bytes a token string stands for, as the ByteLevel decoder of Hugging Face `tokenizers`
// reads it: when every character is in the alphabet, the bytes it spells; otherwise (an added
// token such as "<|User|>" with characters outside it) the token's own UTF-8 bytes. nullopt when
// `token` is not valid UTF-8.
inline std::optional<std::string> decode(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size();) {
    const auto st = utf8::next(token.substr(i));
    if (st.kind != utf8::Step::kValid) return std::nullopt;
    const auto b = char_to_byte(st.code_point);
    if (!b) return std::string(token);
    out += static_cast<char>(*b);
    i += static_cast<std::size_t>(st.length);
  }
  return out;
}

}  // namespace dsvl::io::byte_level
