#pragma once
// Block-quantized weight matrices: q8<G> and q4<G>, the weight storage of the quantized policies.
//
// A matrix w (N, K) is cut, row by row, into groups of G consecutive weights; each group keeps one
// f16 scale d and G integer codes q, and stands for w ≈ d · q (the Q8_0 / Q4_0 schemes of ggml,
// with G = 32 there):
//   q8: q = round(w / d) in [-127, 127], d = max|w| / 127; one int8 per weight.
//   q4: q = min(round(w / d), 7) in [-8, 7], d = -m / 8 where m is the group's weight of largest
//       magnitude (so m itself maps to -8 exactly); stored as the nibble q + 8, two per byte.
// The last group of a row is padded with zero weights when G does not divide K.
//
// Layout (QuantMatrix, QuantView): the codes of all rows, row-major, each row ceil(K / G) groups of
// G bytes (q8) or G / 2 bytes (q4); the scales (N, ceil(K / G)) f16 in a separate array. In a q4
// group, byte j holds code j in its low nibble and code j + G/2 in its high nibble, so one shift
// and one mask turn a group's bytes into its two halves in order.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"

namespace dsvl {

template <int G>
struct q8 {
  static_assert(G > 0 && G % 2 == 0, "dsvl::q8<G>: G must be a positive even number");
  static constexpr int group_size = G;
  static constexpr int bits = 8;
  static constexpr std::string_view name = "q8";
};

template <int G>
struct q4 {
  static_assert(G > 0 && G % 2 == 0, "dsvl::q4<G>: G must be a positive even number");
  static constexpr int group_size = G;
  static constexpr int bits = 4;
  static constexpr std::string_view name = "q4";
};

template <class T> inline constexpr bool is_quant_format_v = false;
template <int G> inline constexpr bool is_quant_format_v<q8<G>> = true;
template <int G> inline constexpr bool is_quant_format_v<q4<G>> = true;

template <class F>
concept QuantFormat = is_quant_format_v<F>;

namespace quant {

// The format as messages name it: "q4<32>".
template <QuantFormat F>
std::string format_name() {
  return std::string(F::name) + "<" + std::to_string(F::group_size) + ">";
}

template <QuantFormat F>
constexpr std::int64_t groups(std::int64_t k) noexcept {
  return (k + F::group_size - 1) / F::group_size;
}
template <QuantFormat F>
constexpr std::int64_t group_bytes() noexcept {
  return F::group_size * F::bits / 8;
}
template <QuantFormat F>
constexpr std::int64_t row_bytes(std::int64_t k) noexcept {
  return groups<F>(k) * group_bytes<F>();
}

// Quantizes one row of k weights into row_bytes<F>(k) code bytes and groups<F>(k) scales.
template <QuantFormat F>
void quantize_row(const float* w, std::int64_t k, std::uint8_t* codes, f16* scales) {
  constexpr int G = F::group_size;
  for (std::int64_t g = 0; g * G < k; ++g) {
    float v[G] = {};
    std::copy_n(w + g * G, std::min<std::int64_t>(G, k - g * G), v);
    float m = 0.0f;  // the value of largest magnitude
    for (float x : v) {
      DSVL_CHECK(std::isfinite(x), "quantize", "group ", g, " of a row holds the non-finite weight ", x);
      m = std::abs(x) > std::abs(m) ? x : m;
    }
    DSVL_CHECK(std::abs(m) / (F::bits == 8 ? 127.0f : 8.0f) <= 65504.0f, "quantize", "the weight ", m,
               " is beyond the range of an f16 scale");
    std::uint8_t* c = codes + g * group_bytes<F>();
    if constexpr (F::bits == 8) {
      const f16 d = f16::from_float(std::abs(m) / 127.0f);
      const float inv = d.to_float() > 0.0f ? 1.0f / d.to_float() : 0.0f;
      for (int j = 0; j < G; ++j)
        c[j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(std::clamp(std::nearbyint(v[j] * inv), -127.0f, 127.0f)));
      scales[g] = d;
    } else {
      const f16 d = f16::from_float(m / -8.0f);
      const float inv = d.to_float() != 0.0f ? 1.0f / d.to_float() : 0.0f;
      auto code = [&](float x) { return static_cast<std::uint8_t>(std::clamp(std::nearbyint(x * inv), -8.0f, 7.0f) + 8.0f); };
      for (int j = 0; j < G / 2; ++j) c[j] = static_cast<std::uint8_t>(code(v[j]) | (code(v[j + G / 2]) << 4));
      scales[g] = d;
    }
  }
}

// The integer code of weight j of a group (q8: -127..127, q4: -8..7).
template <QuantFormat F>
constexpr int code(const std::uint8_t* group, int j) noexcept {
  if constexpr (F::bits == 8) return static_cast<std::int8_t>(group[j]);
  else {
    constexpr int H = F::group_size / 2;
    return (j < H ? group[j] & 0x0f : group[j - H] >> 4) - 8;
  }
}

}  // namespace quant

// A read-only (N, K) quantized matrix: rows of codes and their scales (layout above).
template <QuantFormat F>
class QuantView {
 public:
  using format = F;

  QuantView() = default;
  QuantView(const std::uint8_t* codes, const f16* scales, std::int64_t rows, std::int64_t cols) noexcept
      : codes_(codes), scales_(scales), rows_(rows), cols_(cols) {}

  // (N, K), as the float matrix it stands for.
  std::int64_t shape(std::size_t i) const noexcept { return i == 0 ? rows_ : cols_; }
  std::int64_t size() const noexcept { return rows_ * cols_; }
  bool empty() const noexcept { return size() == 0; }
  std::int64_t groups() const noexcept { return quant::groups<F>(cols_); }
  std::int64_t row_bytes() const noexcept { return quant::row_bytes<F>(cols_); }

  const std::uint8_t* codes(std::int64_t row) const noexcept { return codes_ + row * row_bytes(); }
  const f16* scales(std::int64_t row) const noexcept { return scales_ + row * groups(); }

  // Rows [begin, end).
  QuantView rows(std::int64_t begin, std::int64_t end) const {
    DSVL_CHECK(0 <= begin && begin <= end && end <= rows_, "QuantView::rows", "rows [", begin, ", ", end,
               ") of a matrix with ", rows_);
    return QuantView(codes(begin), scales(begin), end - begin, cols_);
  }

  // The value w[n, k] stands for.
  float operator()(std::int64_t n, std::int64_t k) const noexcept {
    const std::int64_t g = k / F::group_size;
    return scales(n)[g].to_float() *
           static_cast<float>(quant::code<F>(codes(n) + g * quant::group_bytes<F>(), static_cast<int>(k % F::group_size)));
  }

  void dequantize_row(std::int64_t n, std::int64_t k0, std::int64_t k1, float* out) const;

 private:
  const std::uint8_t* codes_ = nullptr;
  const f16* scales_ = nullptr;
  std::int64_t rows_ = 0, cols_ = 0;
};

// out[k - k0] = w[n, k] for k in [k0, k1).
template <QuantFormat F>
void QuantView<F>::dequantize_row(std::int64_t n, std::int64_t k0, std::int64_t k1, float* out) const {
  constexpr int G = F::group_size;
  const std::uint8_t* c = codes(n);
  const f16* d = scales(n);
  for (std::int64_t k = k0; k < k1;) {
    const std::int64_t g = k / G, end = std::min(k1, (g + 1) * G);
    const float scale = d[g].to_float();
    const std::uint8_t* group = c + g * quant::group_bytes<F>();
    for (; k < end; ++k) *out++ = scale * static_cast<float>(quant::code<F>(group, static_cast<int>(k - g * G)));
  }
}

// An owning quantized matrix (64-byte aligned codes and scales).
template <QuantFormat F>
class QuantMatrix {
 public:
  QuantMatrix() = default;
  QuantMatrix(std::int64_t rows, std::int64_t cols)
      : codes_({rows, quant::row_bytes<F>(cols)}), scales_({rows, quant::groups<F>(cols)}), cols_(cols) {}

  // Quantizes a float matrix given row by row: row(n, buffer) writes the K values of row n.
  template <class RowFn>
  static QuantMatrix from_rows(std::int64_t rows, std::int64_t cols, RowFn&& row) {
    QuantMatrix m(rows, cols);
    std::unique_ptr<float[]> buf(new float[static_cast<std::size_t>(std::max<std::int64_t>(cols, 1))]);
    for (std::int64_t n = 0; n < rows; ++n) {
      row(n, buf.get());
      quant::quantize_row<F>(buf.get(), cols, m.codes_.data() + n * m.codes_.shape(1), m.scales_.data() + n * m.scales_.shape(1));
    }
    return m;
  }

  QuantView<F> view() const noexcept { return {codes_.data(), scales_.data(), codes_.shape(0), cols_}; }
  std::uint8_t* codes() noexcept { return codes_.data(); }
  f16* scales() noexcept { return scales_.data(); }
  std::int64_t bytes() const noexcept { return codes_.size() + scales_.size() * 2; }

 private:
  Tensor<std::uint8_t, 2> codes_;
  Tensor<f16, 2> scales_;
  std::int64_t cols_ = 0;
};

}  // namespace dsvl
