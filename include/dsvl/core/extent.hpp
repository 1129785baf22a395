#pragma once
// Extent<N>: a size fixed at compile time (N > 0) or read at run time (N == kDynamic).
//
// Config values are read from config.json by default; a preset passed as a template argument
// fixes them, and the compiler then sees constants. Blocks hold their sizes as Extents, so:
//  - two blocks fixed to different sizes cannot be composed (require_same_extent stops the build);
//  - a fixed block given a checkpoint of another size refuses it at load time, naming the field.

#include <cstdint>
#include <string>
#include <type_traits>

#include "dsvl/core/error.hpp"

namespace dsvl {

inline constexpr std::int64_t kDynamic = -1;

template <std::int64_t N = kDynamic>
class Extent {
  static_assert(N == kDynamic || N >= 0, "dsvl::Extent: a fixed extent must be non-negative");

 public:
  static constexpr std::int64_t fixed = N;
  static constexpr bool is_fixed = N != kDynamic;

  constexpr Extent() noexcept requires(is_fixed) = default;
  // A run-time size; for a fixed extent it must equal N (`field` names the config key).
  constexpr Extent(std::int64_t value, const char* field = "extent") {
    if constexpr (is_fixed) {
      if (value != N)
        fail(field, "the compile-time Config fixes this to ", N, " but the value read is ", value);
    } else {
      DSVL_CHECK(value >= 0, field, "must be non-negative, got ", value);
      value_ = value;
    }
  }

  constexpr std::int64_t value() const noexcept {
    if constexpr (is_fixed) return N;
    else return value_;
  }
  constexpr operator std::int64_t() const noexcept { return value(); }  // NOLINT

 private:
  struct Empty {};
  [[no_unique_address]] std::conditional_t<is_fixed, Empty, std::int64_t> value_{};
};

template <std::int64_t A, std::int64_t B>
inline constexpr bool extents_agree = A == kDynamic || B == kDynamic || A == B;

// Composing a block whose input extent is `In` after one whose output extent is `Out`.
template <std::int64_t Out, std::int64_t In>
constexpr void require_same_extent() {
  static_assert(extents_agree<Out, In>,
                "dsvl: Config/block mismatch: a block's compile-time output size differs from the "
                "input size of the block it feeds (see the two values in this instantiation)");
}

}  // namespace dsvl
