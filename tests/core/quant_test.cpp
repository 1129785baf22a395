#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <random>
#include <vector>

#include "dsvl/core/quant.hpp"

using namespace dsvl;

namespace {

template <class F>
QuantMatrix<F> quantize(const std::vector<float>& w, std::int64_t rows, std::int64_t cols) {
  return QuantMatrix<F>::from_rows(rows, cols, [&](std::int64_t n, float* out) {
    for (std::int64_t k = 0; k < cols; ++k) out[k] = w[static_cast<std::size_t>(n * cols + k)];
  });
}

// Every weight comes back within half a step of its group's scale d, but for q4's clamped side:
// the largest magnitude m maps to -8 (d = -m / 8), so a value of the other sign beyond 7.5 d
// rounds to 7 and may be off by up to |d|.
template <class F>
void check_round_trip(std::int64_t rows, std::int64_t cols) {
  CAPTURE(cols);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> w(static_cast<std::size_t>(rows * cols));
  for (auto& v : w) v = dist(rng);
  const auto m = quantize<F>(w, rows, cols);
  const QuantView<F> q = m.view();
  REQUIRE(q.shape(0) == rows);
  REQUIRE(q.shape(1) == cols);
  std::vector<float> back(static_cast<std::size_t>(cols));
  for (std::int64_t n = 0; n < rows; ++n) {
    q.dequantize_row(n, 0, cols, back.data());
    for (std::int64_t k = 0; k < cols; ++k) {
      const float ds = q.scales(n)[k / F::group_size].to_float(), d = std::abs(ds);
      const float x = w[static_cast<std::size_t>(n * cols + k)];
      INFO("w[" << n << ", " << k << "] = " << x << " -> " << back[k] << ", scale " << ds);
      const float step = F::bits == 4 && x / ds > 7.5f ? d : 0.5f * d;
      // plus the f16 rounding of the scale times the largest code
      CHECK(std::abs(back[k] - x) <= step + (F::bits == 8 ? 127.0f : 8.0f) * d * 0x1p-11f);
      CHECK(q(n, k) == back[k]);
    }
  }
}

}  // namespace

TEST_CASE("quantized rows come back within half a step of their group's scale") {
  for (std::int64_t cols : {1, 31, 32, 33, 64, 100, 4096}) {
    check_round_trip<q8<32>>(3, cols);
    check_round_trip<q4<32>>(3, cols);
    check_round_trip<q8<64>>(2, cols);
  }
}

TEST_CASE("q8 and q4 codes: the layout of core/quant.hpp") {
  // one group of 32: w[j] = j - 16 (largest magnitude -16)
  std::vector<float> w(32);
  for (int j = 0; j < 32; ++j) w[j] = static_cast<float>(j - 16);
  const auto m8 = quantize<q8<32>>(w, 1, 32);
  const auto v8 = m8.view();
  CHECK(v8.scales(0)[0].to_float() == doctest::Approx(16.0f / 127.0f).epsilon(1e-3));
  CHECK(static_cast<std::int8_t>(v8.codes(0)[0]) == -127);
  CHECK(static_cast<std::int8_t>(v8.codes(0)[16]) == 0);
  const auto m4 = quantize<q4<32>>(w, 1, 32);
  const auto v4 = m4.view();
  CHECK(v4.scales(0)[0].to_float() == 2.0f);  // -16 / -8
  CHECK(v4.row_bytes() == 16);
  // byte j: code j (low nibble) and code j + 16 (high nibble), stored as q + 8
  CHECK((v4.codes(0)[0] & 0x0f) == 0);             // -16 / 2 = -8
  CHECK((v4.codes(0)[0] >> 4) == 8);               // w[16] = 0
  CHECK((v4.codes(0)[15] >> 4) == 8 + 7);          // w[31] = 15 -> 7.5 -> clamped to 7
  CHECK(v4(0, 1) == -16.0f);                       // w[1] = -15 -> round(-7.5) = -8 (ties to even)
}

TEST_CASE("a group padded past K keeps zero codes") {
  std::vector<float> w(40, 0.5f);
  const auto m = quantize<q4<32>>(w, 1, 40);
  const auto v = m.view();
  REQUIRE(v.groups() == 2);
  for (int j = 8; j < 16; ++j) CHECK(v.codes(0)[16 + j] == 0x88);  // codes 8 and 24 of group 1: q = 0
}

TEST_CASE("quantizing a non-finite or out-of-range weight fails with a message naming its row and group") {
  std::vector<float> w(3 * 64, 0.0f);
  w[64 + 32 + 3] = NAN;
  CHECK_THROWS_WITH_AS(quantize<q8<32>>(w, 3, 64), "quantize: row 1, group 1 holds the non-finite weight nan", dsvl::Error);
  w[64 + 32 + 3] = -INFINITY;
  CHECK_THROWS_WITH_AS(quantize<q4<32>>(w, 3, 64), "quantize: row 1, group 1 holds the non-finite weight -inf", dsvl::Error);
  w[64 + 32 + 3] = 1e9f;
  CHECK_THROWS_WITH_AS(quantize<q8<32>>(w, 3, 64), doctest::Contains("row 1, group 1 holds a weight of magnitude 1e+09, beyond the range of an f16 scale"),
                       dsvl::Error);
  // From a row's rounding, the same on any thread.
  dsvl::ThreadPool pool(2);
  CHECK_THROWS_WITH_AS(QuantMatrix<q8<32>>::from_rows(3, 64, [&](std::int64_t n, float* out) { std::copy_n(w.data() + n * 64, 64, out); }, pool),
                       doctest::Contains("row 1, group 1"), dsvl::Error);
}

// q4's scale is the weight of largest magnitude over -8 (so that weight maps to -8): with both
// signs at that magnitude, the first one's; an all-zero group, +0 or -0, has the scale +0 / -8.
TEST_CASE("q4: the scale takes the sign of the first weight of largest magnitude") {
  for (int first : {0, 5, 31})
    for (float sign : {1.0f, -1.0f}) {
      CAPTURE(first);
      CAPTURE(sign);
      std::vector<float> w(32, 0.25f);
      w[first] = 2.0f * sign;
      w[first == 31 ? 30 : 31] = -2.0f * sign;  // the same magnitude, later (or, for 31, earlier)
      const auto m = quantize<q4<32>>(w, 1, 32);
      const float expected = (first == 31 ? -2.0f * sign : 2.0f * sign) / -8.0f;
      CHECK(m.view().scales(0)[0].to_float() == expected);
    }
  for (float zero : {0.0f, -0.0f}) {
    const auto m = quantize<q4<32>>(std::vector<float>(32, zero), 1, 32);
    CHECK(m.view().scales(0)[0].bits == dsvl::f16::from_float(0.0f / -8.0f).bits);
  }
}

TEST_CASE("quantizing rows on several threads gives the same codes and scales") {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> w(static_cast<std::size_t>(257 * 100));
  for (auto& v : w) v = dist(rng);
  dsvl::ThreadPool pool(2);
  auto row = [&](std::int64_t n, float* out) { std::copy_n(w.data() + n * 100, 100, out); };
  const auto serial = QuantMatrix<q4<32>>::from_rows(257, 100, row);
  const auto parallel = QuantMatrix<q4<32>>::from_rows(257, 100, row, pool);
  const auto a = serial.view(), b = parallel.view();
  CHECK(std::memcmp(a.codes(0), b.codes(0), static_cast<std::size_t>(257 * a.row_bytes())) == 0);
  CHECK(std::memcmp(a.scales(0), b.scales(0), static_cast<std::size_t>(257 * a.groups()) * sizeof(dsvl::f16)) == 0);
}
