#pragma once
// Storage types: bf16 and f16 with exact round-to-nearest-even conversion from f32, and the
// DType tag used by checkpoints (safetensors dtype strings).

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "dsvl/core/error.hpp"

namespace dsvl {

// bfloat16: the upper 16 bits of an IEEE-754 binary32.
struct bf16 {
  std::uint16_t bits = 0;

  static constexpr bf16 from_bits(std::uint16_t b) noexcept { return bf16{b}; }

  // Round to nearest, ties to even. NaN stays NaN (quieted); +-Inf and overflow to Inf as IEEE.
  static constexpr bf16 from_float(float f) noexcept {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<std::uint16_t>((u >> 16) | 0x0040u)};
    const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
    return bf16{static_cast<std::uint16_t>((u + rounding) >> 16)};
  }
  constexpr float to_float() const noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
  }
  explicit constexpr operator float() const noexcept { return to_float(); }
  friend constexpr bool operator==(bf16, bf16) = default;
};

// IEEE-754 binary16.
struct f16 {
  std::uint16_t bits = 0;

  static constexpr f16 from_bits(std::uint16_t b) noexcept { return f16{b}; }

  // Round to nearest, ties to even, subnormals included; NaN stays NaN (quieted, payload's top
  // bits kept); values at or above 65520 round to Inf.
  static constexpr f16 from_float(float f) noexcept {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    const std::uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return f16{static_cast<std::uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu))};
    if (a >= 0x477ff000u) return f16{static_cast<std::uint16_t>(sign | 0x7c00u)};  // >= 65520: Inf
    if (a >= 0x38800000u) {  // normal f16 (|f| >= 2^-14)
      const std::uint32_t rounded = a + 0xfffu + ((a >> 13) & 1u);
      return f16{static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13))};
    }
    if (a < 0x33000000u) return f16{sign};  // < 2^-25: rounds to zero (2^-25 itself ties to 0)
    // Subnormal f16: value = m * 2^-24 with m = round(|f| * 2^24).
    const std::uint32_t exp = a >> 23;              // 102..112
    const std::uint32_t mant = (a & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - exp;         // 14..24: bits dropped from the 24-bit mantissa
    const std::uint32_t half = 1u << (shift - 1);
    const std::uint32_t rest = mant & ((1u << shift) - 1u);
    std::uint32_t m = mant >> shift;
    if (rest > half || (rest == half && (m & 1u))) ++m;
    return f16{static_cast<std::uint16_t>(sign | m)};
  }
  constexpr float to_float() const noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
    const std::uint32_t exp = (bits >> 10) & 0x1fu;
    std::uint32_t mant = bits & 0x3ffu;
    if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return std::bit_cast<float>(sign);
    int e = 113;  // normalise the subnormal: value = mant * 2^-24
    while (!(mant & 0x400u)) { mant <<= 1; --e; }
    return std::bit_cast<float>(sign | (static_cast<std::uint32_t>(e) << 23) | ((mant & 0x3ffu) << 13));
  }
  explicit constexpr operator float() const noexcept { return to_float(); }
  friend constexpr bool operator==(f16, f16) = default;
};

// Widening to f32 for any storage type.
constexpr float to_f32(float x) noexcept { return x; }
constexpr float to_f32(bf16 x) noexcept { return x.to_float(); }
constexpr float to_f32(f16 x) noexcept { return x.to_float(); }

// Narrowing from f32 with round-to-nearest-even.
template <class T>
constexpr T from_f32(float x) noexcept {
  if constexpr (std::is_same_v<T, float>) return x;
  else return T::from_float(x);
}

enum class DType : std::uint8_t { f32, bf16, f16, i64, i32, u8 };
inline constexpr DType kDTypes[] = {DType::f32, DType::bf16, DType::f16, DType::i64, DType::i32, DType::u8};

constexpr std::size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::f32: return 4;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::i64: return 8;
    case DType::i32: return 4;
    case DType::u8: return 1;
  }
  return 0;
}

// The safetensors spelling ("F32", "BF16", ...).
constexpr std::string_view dtype_name(DType t) noexcept {
  switch (t) {
    case DType::f32: return "F32";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::u8: return "U8";
  }
  return "?";
}

inline DType parse_dtype(std::string_view name, const std::string& where) {
  for (DType t : kDTypes)
    if (dtype_name(t) == name) return t;
  fail(where, "unsupported dtype '", name, "' (supported: F32, BF16, F16, I64, I32, U8)");
}

template <class T> inline constexpr bool is_storage_type_v = false;
template <> inline constexpr bool is_storage_type_v<float> = true;
template <> inline constexpr bool is_storage_type_v<bf16> = true;
template <> inline constexpr bool is_storage_type_v<f16> = true;
template <> inline constexpr bool is_storage_type_v<std::int64_t> = true;
template <> inline constexpr bool is_storage_type_v<std::int32_t> = true;
template <> inline constexpr bool is_storage_type_v<std::uint8_t> = true;

template <class T>
constexpr DType dtype_of() noexcept {
  static_assert(is_storage_type_v<std::remove_const_t<T>>,
                "dsvl: dtype_of<T>: T must be float, bf16, f16, int64_t, int32_t or uint8_t");
  using U = std::remove_const_t<T>;
  if constexpr (std::is_same_v<U, float>) return DType::f32;
  else if constexpr (std::is_same_v<U, bf16>) return DType::bf16;
  else if constexpr (std::is_same_v<U, f16>) return DType::f16;
  else if constexpr (std::is_same_v<U, std::int64_t>) return DType::i64;
  else if constexpr (std::is_same_v<U, std::int32_t>) return DType::i32;
  else return DType::u8;
}

// Calls f(T{}) with the C++ type of a runtime DType.
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::bf16: return f(bf16{});
    case DType::f16: return f(f16{});
    case DType::i64: return f(std::int64_t{});
    case DType::i32: return f(std::int32_t{});
    case DType::u8: return f(std::uint8_t{});
  }
  fail("visit_dtype", "invalid DType value ", static_cast<int>(t));
}

}  // namespace dsvl
