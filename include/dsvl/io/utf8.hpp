#pragma once
// UTF-8: decoding with validation, encoding, and the lossy conversion that replaces each invalid
// sequence with U+FFFD. "Invalid sequence" is the maximal subpart of the Unicode standard (§3.9,
// "U+FFFD substitution of maximal subparts"), the rule Rust's String::from_utf8_lossy and the
// WHATWG decoder follow: a byte that cannot continue the sequence ends it, and is looked at again.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsvl::io::utf8 {

inline constexpr char32_t kReplacement = 0xFFFD;

struct Step {
  enum Kind : std::uint8_t { kValid, kInvalid, kTruncated };
  Kind kind;
  char32_t code_point;  // kValid only
  int length;           // kValid: bytes of the character; kInvalid / kTruncated: bytes of the subpart
};

// Decodes the sequence that starts at s[0]. kTruncated: `s` ends inside a sequence that could still
// be valid (a streaming decoder waits for more bytes; a whole-text decoder treats it as invalid).
inline Step next(std::string_view s) noexcept {
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return {Step::kValid, b0, 1};
  int need;
  char32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {Step::kInvalid, 0, 1};
  }
  for (int i = 1; i <= need; ++i) {
    if (static_cast<std::size_t>(i) >= s.size()) return {Step::kTruncated, 0, i};
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return {Step::kInvalid, 0, i};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {Step::kValid, cp, need + 1};
}

inline void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Byte offset of the first invalid or truncated sequence, or s.size() when `s` is valid UTF-8.
inline std::size_t first_invalid(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Step st = next(s.substr(i));
    if (st.kind != Step::kValid) return i;
    i += static_cast<std::size_t>(st.length);
  }
  return i;
}

// Appends `s` to `out` with every invalid subpart replaced by U+FFFD. With `final_chunk` false a
// truncated sequence at the end is left unconsumed; the return value is the number of bytes
// consumed, so a streaming caller keeps s.substr(result) for the next chunk.
inline std::size_t append_lossy(std::string& out, std::string_view s, bool final_chunk = true) {
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && static_cast<unsigned char>(s[j]) < 0x80) ++j;
    out.append(s.data() + i, j - i);
    i = j;
    if (i == s.size()) break;
    const Step st = next(s.substr(i));
    if (st.kind == Step::kValid) {
      out.append(s.data() + i, static_cast<std::size_t>(st.length));
    } else if (st.kind == Step::kTruncated && !final_chunk) {
      return i;
    } else {
      append(out, kReplacement);
    }
    i += static_cast<std::size_t>(st.length);
  }
  return i;
}

inline std::string lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_lossy(out, s);
  return out;
}

}  // namespace dsvl::io::utf8
