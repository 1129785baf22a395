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
#include <bit>
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
#include "dsvl/core/threading.hpp"

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
// The loops over a group's weights are free of branches and of dependences from lane to lane, so
// the compiler turns them into vector code: the largest magnitude is kept in kLanes partial maxima
// of the bits of |x|, whose order as integers is that of the magnitudes, and whose largest values
// are the non-finite ones.
template <QuantFormat F>
void quantize_row(const float* w, std::int64_t k, std::uint8_t* codes, f16* scales) {
  constexpr int G = F::group_size, kLanes = G % 8 == 0 ? 8 : 2;
  for (std::int64_t g = 0; g * G < k; ++g) {
    float padded[G];
    const float* v = w + g * G;
    if (k - g * G < G) {  // the last group, padded with zeros
      std::fill_n(std::copy(v, w + k, padded), G - (k - g * G), 0.0f);
      v = padded;
    }
    std::uint32_t lanes[kLanes] = {};
    for (int j = 0; j < G; j += kLanes)
      for (int l = 0; l < kLanes; ++l) lanes[l] = std::max(lanes[l], std::bit_cast<std::uint32_t>(v[j + l]) & 0x7fffffffu);
    const std::uint32_t top = *std::max_element(lanes, lanes + kLanes);
    if (top >= 0x7f800000u) {
      const float* bad = std::find_if(v, v + G, [](float x) { return !std::isfinite(x); });
      fail("quantize", "group ", g, " holds the non-finite weight ", *bad);
    }
    const float amax = std::bit_cast<float>(top);
    if (!(amax / (F::bits == 8 ? 127.0f : 8.0f) <= 65504.0f))
      fail("quantize", "group ", g, " holds a weight of magnitude ", amax, ", beyond the range of an f16 scale");
    std::uint8_t* c = codes + g * group_bytes<F>();
    if constexpr (F::bits == 8) {
      const f16 d = f16::from_float(amax / 127.0f);
      const float inv = d.to_float() > 0.0f ? 1.0f / d.to_float() : 0.0f;
      for (int j = 0; j < G; ++j)
        c[j] = static_cast<std::uint8_t>(static_cast<int>(std::clamp(std::nearbyint(v[j] * inv), -127.0f, 127.0f)));
      scales[g] = d;
    } else {
      // m: the first weight of that magnitude, with its sign, maps to -8. Over the weights j of
      // that magnitude, the largest (G - j) << 1 | sign is the first one's.
      std::uint32_t first[kLanes] = {};
      for (int j = 0; j < G; j += kLanes)
        for (int l = 0; l < kLanes; ++l) {
          const std::uint32_t b = std::bit_cast<std::uint32_t>(v[j + l]);
          const std::uint32_t hit = 0u - static_cast<std::uint32_t>((b & 0x7fffffffu) == top);
          first[l] = std::max(first[l], hit & (static_cast<std::uint32_t>(G - j - l) << 1 | b >> 31));
        }
      const bool negative = amax > 0.0f && (*std::max_element(first, first + kLanes) & 1u);
      const f16 d = f16::from_float((negative ? -amax : amax) / -8.0f);
      const float inv = d.to_float() != 0.0f ? 1.0f / d.to_float() : 0.0f;
      auto code = [&](float x) { return static_cast<int>(std::clamp(std::nearbyint(x * inv), -8.0f, 7.0f)) + 8; };
      for (int j = 0; j < G / 2; ++j) c[j] = static_cast<std::uint8_t>(code(v[j]) | code(v[j + G / 2]) << 4);
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

  // Quantizes a float matrix given row by row: row(n, buffer) writes the K values of row n,
  // called for n in order. A weight that cannot be quantized is named by row and group.
  template <class RowFn>
  static QuantMatrix from_rows(std::int64_t rows, std::int64_t cols, RowFn&& row) {
    QuantMatrix m(rows, cols);
    m.quantize_rows(0, rows, row);
    return m;
  }
  // The same with the rows spread over `pool`'s threads: row must be safe to call from several.
  template <class RowFn>
  static QuantMatrix from_rows(std::int64_t rows, std::int64_t cols, RowFn&& row, ThreadPool& pool) {
    QuantMatrix m(rows, cols);
    pool.parallel_for(0, rows, [&](std::int64_t n0, std::int64_t n1) { m.quantize_rows(n0, n1, row); }, 16);
    return m;
  }

  QuantView<F> view() const noexcept { return {codes_.data(), scales_.data(), codes_.shape(0), cols_}; }
  std::uint8_t* codes() noexcept { return codes_.data(); }
  f16* scales() noexcept { return scales_.data(); }
  std::int64_t bytes() const noexcept { return codes_.size() + scales_.size() * 2; }

 private:
  template <class RowFn>
  void quantize_rows(std::int64_t n0, std::int64_t n1, RowFn& row) {
    std::unique_ptr<float[]> buf(new float[static_cast<std::size_t>(std::max<std::int64_t>(cols_, 1))]);
    for (std::int64_t n = n0; n < n1; ++n) {
      row(n, buf.get());
      try {
        quant::quantize_row<F>(buf.get(), cols_, codes_.data() + n * codes_.shape(1), scales_.data() + n * scales_.shape(1));
      } catch (const Error& e) {
        fail(e.where(), "row ", n, ", ", e.problem());
      }
    }
  }

  Tensor<std::uint8_t, 2> codes_;
  Tensor<f16, 2> scales_;
  std::int64_t cols_ = 0;
};

}  // namespace dsvl
