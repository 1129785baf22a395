// The image fixtures of tools/reference/preprocess_v1.py: tests/data/preprocess/cases.json (the
// cases and CRC-32 checksums of Pillow's results) and expected.bin (the smaller results whole).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/core/tensor.hpp"
#include "dsvl/io/json.hpp"

namespace dsvl::test {

inline std::filesystem::path test_data(const std::string& rel) { return std::filesystem::path(DSVL_TEST_DATA_DIR) / rel; }

// zlib's CRC-32 (reflected polynomial 0xEDB88320), as Python's zlib.crc32.
inline std::uint32_t crc32(const void* data, std::size_t n) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  const auto* p = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

struct PreprocessFixture {
  nlohmann::json cases;
  std::vector<std::uint8_t> blob;

  static const PreprocessFixture& get() {
    static const PreprocessFixture f = [] {
      PreprocessFixture r;
      r.cases = io::read_json(test_data("preprocess/cases.json"));
      std::ifstream in(test_data("preprocess/expected.bin"), std::ios::binary);
      r.blob.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      return r;
    }();
    return f;
  }

  // The stored bytes of a case, or nullptr when only its checksum is kept.
  const std::uint8_t* stored(const nlohmann::json& c, std::size_t bytes) const {
    const auto off = c.at("offset").get<std::int64_t>();
    if (off < 0) return nullptr;
    if (static_cast<std::size_t>(off) + bytes > blob.size()) return nullptr;
    return blob.data() + off;
  }
};

// The patterns of preprocess_v1.py's pattern(): uint8 [h, w, 3].
inline std::uint32_t mix32(std::uint32_t v) {
  v ^= v >> 16;
  v *= 0x7FEB352Du;
  v ^= v >> 15;
  v *= 0x846CA68Bu;
  v ^= v >> 16;
  return v;
}

inline Tensor<std::uint8_t, 3> pattern(const std::string& kind, std::uint32_t seed, std::int64_t h, std::int64_t w) {
  Tensor<std::uint8_t, 3> t({h, w, 3});
  const std::uint32_t wm = static_cast<std::uint32_t>(std::max<std::int64_t>(w - 1, 1));
  const std::uint32_t hm = static_cast<std::uint32_t>(std::max<std::int64_t>(h - 1, 1));
  const std::uint32_t b = 1 + seed % 5;
  for (std::uint32_t y = 0; y < h; ++y)
    for (std::uint32_t x = 0; x < w; ++x)
      for (std::uint32_t c = 0; c < 3; ++c) {
        const std::uint32_t hsh = mix32(seed * 0x9E3779B1u + y * 0x85EBCA77u + x * 0xC2B2AE3Du + c * 0x27D4EB2Fu);
        std::uint32_t v = 0;
        if (kind == "noise") v = hsh & 255;
        else if (kind == "smooth") v = ((x * 251) / wm + (y * 127) / hm + c * 60 + (hsh & 15)) & 255;
        else if (kind == "blocks") v = ((x / b + y / b + c) & 1) * 255;
        t(y, x, c) = static_cast<std::uint8_t>(v);
      }
  return t;
}

// The largest |a[i] - b[i]| and how many elements differ.
template <class T>
struct Difference {
  double max = 0;
  std::int64_t count = 0;
};
template <class T>
Difference<T> difference(const T* a, const T* b, std::int64_t n) {
  Difference<T> d;
  for (std::int64_t i = 0; i < n; ++i) {
    const double e = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (e != 0) {
      ++d.count;
      d.max = std::max(d.max, e);
    }
  }
  return d;
}

}  // namespace dsvl::test
