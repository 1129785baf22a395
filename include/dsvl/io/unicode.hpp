#pragma once
// Unicode character properties for the tokenizer: General_Category, White_Space and the UTS #18
// word class, from the generated tables in unicode_tables.hpp (see tools/unicode/).

#include <cstdint>

#include "dsvl/io/unicode_tables.hpp"

namespace dsvl::io::unicode {

inline std::uint8_t properties(char32_t cp) noexcept {
  if (cp >= 0x110000) return 0;  // Cn
  return detail::kBlocks[(std::size_t{detail::kBlockIndex[cp >> detail::kBlockShift]}
                          << detail::kBlockShift) |
                         (cp & ((1u << detail::kBlockShift) - 1))];
}

inline Category category(char32_t cp) noexcept { return Category(properties(cp) & 0x1F); }

// A set of general categories, as a bit mask indexed by Category.
using CategoryMask = std::uint32_t;

constexpr CategoryMask mask(Category c) noexcept { return CategoryMask{1} << static_cast<int>(c); }
template <class... C>
constexpr CategoryMask mask(Category c, C... more) noexcept {
  return mask(c) | mask(more...);
}

using enum Category;
inline constexpr CategoryMask kLetter = mask(Lu, Ll, Lt, Lm, Lo);
inline constexpr CategoryMask kMark = mask(Mn, Mc, Me);
inline constexpr CategoryMask kNumber = mask(Nd, Nl, No);
inline constexpr CategoryMask kPunctuation = mask(Pc, Pd, Ps, Pe, Pi, Pf, Po);
inline constexpr CategoryMask kSymbol = mask(Sm, Sc, Sk, So);
inline constexpr CategoryMask kSeparator = mask(Zs, Zl, Zp);
inline constexpr CategoryMask kOther = mask(Cn, Cc, Cf, Cs, Co);
inline constexpr CategoryMask kAll = (CategoryMask{1} << 30) - 1;

inline bool in(char32_t cp, CategoryMask m) noexcept { return (m >> (properties(cp) & 0x1F)) & 1; }

inline bool is_white_space(char32_t cp) noexcept {
  return properties(cp) & detail::kWhiteSpaceBit;
}

// \w of UTS #18 (Annex C), as Oniguruma and Rust's regex define it: Alphabetic, Mark,
// Decimal_Number, Connector_Punctuation, Join_Control. Alphabetic = L, Nl and Other_Alphabetic.
inline bool is_word(char32_t cp) noexcept {
  const std::uint8_t p = properties(cp);
  return (p & detail::kWordExtraBit) || ((kLetter | kMark | mask(Nd, Nl, Pc)) >> (p & 0x1F)) & 1;
}

}  // namespace dsvl::io::unicode
