// Reading the reference tensors that tools/reference/ scripts write, and comparing with them.
// The fixture files also hold U8 and F64 tensors, which io::Checkpoint does not read, so this reads
// the safetensors layout directly (8-byte header length, JSON header, data).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/quant.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/view.hpp"

namespace dsvl::test {

// How a policy stores weights of type W, for test messages: "f32", "bf16", "q8<32>", ...
template <class W>
std::string weight_name() {
  if constexpr (is_quant_format_v<W>) return quant::format_name<W>();
  else return std::is_same_v<W, bf16> ? "bf16" : "f32";
}

// max |got - want| / max |want| over two tensors of the same shape (the absolute error when `want`
// is all zeros).
inline double relative_error(View<const float, 2> got, View<const float, 2> want) {
  REQUIRE(got.shape() == want.shape());
  double err = 0, scale = 0;
  for (std::int64_t r = 0; r < want.shape(0); ++r)
    for (std::int64_t c = 0; c < want.shape(1); ++c) {
      err = std::max(err, std::abs(static_cast<double>(got(r, c)) - want(r, c)));
      scale = std::max(scale, std::abs(static_cast<double>(want(r, c))));
    }
  return scale > 0 ? err / scale : err;
}

// The index of the largest of row[0, n) (the first on a tie, as torch.argmax).
inline std::int32_t argmax(const float* row, std::int64_t n) {
  return static_cast<std::int32_t>(std::max_element(row, row + n) - row);
}

class ReferenceFile {
 public:
  explicit ReferenceFile(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open ", path.string());
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    REQUIRE(bytes_.size() >= 8);
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes_[static_cast<std::size_t>(i)]);
    REQUIRE(8 + n <= bytes_.size());
    header_ = nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    data_begin_ = 8 + n;
  }

  // The tensor's bytes, after checking its dtype ("F32", "U8", ...) and shape.
  const char* data(const std::string& name, const std::string& dtype,
                   const std::vector<std::int64_t>& shape) const {
    const auto& t = header_.at(name);
    REQUIRE(t.at("dtype") == dtype);
    REQUIRE(t.at("shape").get<std::vector<std::int64_t>>() == shape);
    return bytes_.data() + data_begin_ + t.at("data_offsets")[0].get<std::size_t>();
  }

  // An F32 tensor of the given shape, copied as (rows, numel / rows) (the file's data need not be
  // aligned).
  Tensor<float, 2> f32(const std::string& name, const std::vector<std::int64_t>& shape,
                       std::int64_t rows) const {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    Tensor<float, 2> out({rows, n / rows});
    std::memcpy(out.data(), data(name, "F32", shape), sizeof(float) * static_cast<std::size_t>(n));
    return out;
  }

  bool contains(const std::string& name) const { return header_.contains(name); }
  std::vector<std::int64_t> shape(const std::string& name) const {
    return header_.at(name).at("shape").get<std::vector<std::int64_t>>();
  }

  // Every element of an I64 or F64 tensor of any shape, in order.
  std::vector<std::int64_t> i64(const std::string& name) const { return elements<std::int64_t>(name, "I64"); }
  std::vector<double> f64(const std::string& name) const { return elements<double>(name, "F64"); }

 private:
  template <class T>
  std::vector<T> elements(const std::string& name, const std::string& dtype) const {
    const auto s = shape(name);
    std::size_t n = 1;
    for (auto d : s) n *= static_cast<std::size_t>(d);
    std::vector<T> out(n);
    std::memcpy(out.data(), data(name, dtype, s), sizeof(T) * n);
    return out;
  }

  std::vector<char> bytes_;
  nlohmann::json header_;
  std::size_t data_begin_ = 0;
};

// An F32 tensor of any rank as (product of the leading extents, last extent).
inline Tensor<float, 2> want_f32(const ReferenceFile& ref, const std::string& name) {
  const auto shape = ref.shape(name);
  std::int64_t rows = 1;
  for (std::size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  return ref.f32(name, shape, rows);
}

// The rows of x at `positions`, packed.
inline Tensor<float, 2> rows_at(View<const float, 2> x, const std::vector<std::int64_t>& positions) {
  Tensor<float, 2> out({static_cast<std::int64_t>(positions.size()), x.shape(1)});
  for (std::size_t i = 0; i < positions.size(); ++i)
    std::copy_n(x.data() + positions[i] * x.stride(0), x.shape(1), out.data() + static_cast<std::int64_t>(i) * x.shape(1));
  return out;
}

// A fixture's int64 ids as token ids.
inline std::vector<std::int32_t> as_i32(const std::vector<std::int64_t>& v) { return {v.begin(), v.end()}; }

}  // namespace dsvl::test
