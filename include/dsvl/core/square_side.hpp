#pragma once
// square_side(n): the side s of a square token grid of n tokens (s * s == n), or -1 when n is not
// a perfect square. Exact for every n that fits an int64 grid of tokens.

#include <cmath>
#include <cstdint>

namespace dsvl {

inline std::int64_t square_side(std::int64_t n) noexcept {
  if (n < 0) return -1;
  auto s = static_cast<std::int64_t>(std::sqrt(static_cast<double>(n)));
  while (s * s > n) --s;
  while ((s + 1) * (s + 1) <= n) ++s;
  return s * s == n ? s : -1;
}

}  // namespace dsvl
