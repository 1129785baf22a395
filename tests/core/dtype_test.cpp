#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "dsvl/core/dtype.hpp"

using namespace dsvl;

namespace {

bool is_nan_bits16(std::uint16_t b, std::uint16_t exp_mask, std::uint16_t mant_mask) {
  return (b & exp_mask) == exp_mask && (b & mant_mask) != 0;
}

// Round-to-nearest-even by exhaustive reasoning: the exact value lies between two adjacent
// representable values lo < v < hi; the result must be the nearer one, the even one on a tie.
template <class T>
void check_rne_between(std::uint16_t lo_bits, float v) {
  const T lo = T::from_bits(lo_bits), hi = T::from_bits(static_cast<std::uint16_t>(lo_bits + 1));
  const double dl = std::fabs(double(v) - lo.to_float()), dh = std::fabs(double(hi.to_float()) - v);
  const T got = T::from_float(v);
  if (dl < dh) CHECK(got.bits == lo.bits);
  else if (dh < dl) CHECK(got.bits == hi.bits);
  else CHECK(got.bits == ((lo.bits & 1) ? hi.bits : lo.bits));
}

}  // namespace

TEST_CASE("bf16: every bit pattern widens exactly and narrows back to itself") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = bf16::from_bits(static_cast<std::uint16_t>(b));
    const float f = h.to_float();
    CHECK(std::bit_cast<std::uint32_t>(f) == b << 16);
    if (is_nan_bits16(static_cast<std::uint16_t>(b), 0x7f80, 0x007f)) {
      CHECK(std::isnan(bf16::from_float(f).to_float()));
    } else {
      CHECK(bf16::from_float(f).bits == b);
    }
  }
}

TEST_CASE("bf16: f32 values between neighbours round to nearest, ties to even") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto lo = static_cast<std::uint16_t>(b);
    if ((lo & 0x7fff) >= 0x7f80 || (lo & 0x7fff) == 0x7f7f) continue;  // Inf/NaN or next is Inf
    const std::uint32_t base = b << 16;
    // below the midpoint, the midpoint itself, above it, and the last f32 before the neighbour
    for (std::uint32_t low16 : {0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu}) {
      const float v = std::bit_cast<float>(base | low16);
      check_rne_between<bf16>(lo, v);
    }
  }
  CHECK(bf16::from_float(3.3895314e38f).bits == 0x7f7f);          // max finite stays finite
  CHECK(bf16::from_float(std::numeric_limits<float>::max()).bits == 0x7f80);  // rounds up to Inf
  CHECK(bf16::from_float(-INFINITY).bits == 0xff80);
  CHECK(std::isnan(bf16::from_float(std::numeric_limits<float>::quiet_NaN()).to_float()));
  CHECK(std::isnan(bf16::from_float(std::bit_cast<float>(0x7f800001u)).to_float()));  // signalling NaN stays NaN
}

TEST_CASE("f16: every bit pattern widens exactly and narrows back to itself") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = f16::from_bits(static_cast<std::uint16_t>(b));
    const float f = h.to_float();
    const std::uint32_t exp = (b >> 10) & 0x1f, mant = b & 0x3ff;
    const double sign = (b & 0x8000) ? -1.0 : 1.0;
    if (exp == 0x1f) {
      if (mant == 0) CHECK(f == sign * INFINITY);
      else CHECK(std::isnan(f));
      if (mant != 0) CHECK(std::isnan(f16::from_float(f).to_float()));
      else CHECK(f16::from_float(f).bits == b);
      continue;
    }
    const double expect = exp == 0 ? sign * std::ldexp(double(mant), -24)
                                   : sign * std::ldexp(double(mant | 0x400), int(exp) - 25);
    CHECK(double(f) == expect);
    CHECK(f16::from_float(f).bits == b);  // subnormals and signed zeros included
  }
}

TEST_CASE("f16: f32 values between neighbours round to nearest, ties to even") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto lo = static_cast<std::uint16_t>(b);
    if ((lo & 0x7fff) >= 0x7bff) continue;  // the top binade's last step goes to Inf: checked below
    const float a = f16::from_bits(lo).to_float(), c = f16::from_bits(static_cast<std::uint16_t>(lo + 1)).to_float();
    const double mid = 0.5 * (double(a) + double(c));
    for (double v : {std::nextafter(mid, double(a)), mid, std::nextafter(mid, double(c)), double(a) + (double(c) - a) * 0.25,
                     double(a) + (double(c) - a) * 0.75}) {
      check_rne_between<f16>(lo, static_cast<float>(v));
    }
  }
  CHECK(f16::from_float(65504.0f).bits == 0x7bff);
  CHECK(f16::from_float(65519.99f).bits == 0x7bff);
  CHECK(f16::from_float(65520.0f).bits == 0x7c00);  // the tie above the max rounds to Inf (even)
  CHECK(f16::from_float(-1e9f).bits == 0xfc00);
  CHECK(f16::from_float(std::ldexp(1.0f, -25)).bits == 0x0000);                 // tie to even zero
  CHECK(f16::from_float(std::nextafter(std::ldexp(1.0f, -25), 1.0f)).bits == 0x0001);
  CHECK(f16::from_float(std::ldexp(3.0f, -25)).bits == 0x0002);                 // 1.5 ulp ties to 2
  CHECK(f16::from_float(-0.0f).bits == 0x8000);
  CHECK(std::isnan(f16::from_float(std::numeric_limits<float>::quiet_NaN()).to_float()));
}

TEST_CASE("DType names, sizes and parsing") {
  CHECK(dtype_size(DType::bf16) == 2);
  CHECK(dtype_size(DType::i64) == 8);
  CHECK(parse_dtype("BF16", "x") == DType::bf16);
  CHECK(dtype_of<const bf16>() == DType::bf16);
  CHECK(visit_dtype(DType::f16, [](auto t) { return sizeof(t); }) == 2);
  CHECK_THROWS_WITH_AS(parse_dtype("F64", "model.safetensors: tensor 'w'"),
                       "model.safetensors: tensor 'w': unsupported dtype 'F64' (supported: F32, BF16, F16, I64, I32, U8)",
                       dsvl::Error);
}
