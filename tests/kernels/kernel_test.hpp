#pragma once
// Shared helpers for the kernel tests: every SIMD tag is checked against the scalar reference
// over sizes 0, 1, odd, not a multiple of any vector width, and misaligned pointers.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/dsvl.hpp"

namespace dsvl::test {

// Row lengths: empty, one, odd, around and not at multiples of 4/8/16 lanes, larger than a block.
inline const std::vector<std::int64_t> kLengths = {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257};

// A buffer with a deliberate misalignment: data() is `offset` elements past a 64-byte boundary.
template <class T>
class Buffer {
 public:
  explicit Buffer(std::int64_t n, std::int64_t offset = 1)
      : storage_(static_cast<std::size_t>(n + offset + 64)), offset_(offset) {
    auto addr = reinterpret_cast<std::uintptr_t>(storage_.data());
    const std::size_t skip = (64 - addr % 64) % 64 / sizeof(T);
    begin_ = storage_.data() + skip + offset_;
    n_ = n;
  }
  T* data() { return begin_; }
  const T* data() const { return begin_; }
  std::int64_t size() const { return n_; }
  T& operator[](std::int64_t i) { return begin_[i]; }
  const T& operator[](std::int64_t i) const { return begin_[i]; }

 private:
  std::vector<T> storage_;
  std::int64_t offset_;
  T* begin_;
  std::int64_t n_;
};

inline std::mt19937& rng() {
  static std::mt19937 g(1234);
  return g;
}

template <class T>
void fill_uniform(T* p, std::int64_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> u(lo, hi);
  for (std::int64_t i = 0; i < n; ++i) p[i] = from_f32<T>(u(rng()));
}

// A PyTorch fixture from tests/data/kernels/ (written by tools/reference/), parsed once.
inline const nlohmann::json& fixture(const std::string& file) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    std::ifstream f(std::string(DSVL_TEST_DATA_DIR) + "/kernels/" + file);
    REQUIRE_MESSAGE(f.good(), "missing fixture tests/data/kernels/" << file);
    it = cache.emplace(file, nlohmann::json::parse(f)).first;
  }
  return it->second;
}

// A fixture array as floats; non-finite values are stored as the strings "nan", "inf", "-inf".
inline std::vector<float> floats(const nlohmann::json& a) {
  std::vector<float> v;
  v.reserve(a.size());
  for (const auto& e : a) {
    if (!e.is_string()) v.push_back(e.get<float>());
    else if (e == "nan") v.push_back(NAN);
    else v.push_back(e == "inf" ? INFINITY : -INFINITY);
  }
  return v;
}

// f32 values in a storage type (float, bf16, f16), rounded to nearest even.
template <class W>
std::vector<W> to_storage(const std::vector<float>& v) {
  std::vector<W> out;
  out.reserve(v.size());
  for (float f : v) out.push_back(from_f32<W>(f));
  return out;
}

struct Diff {
  double max_abs = 0;
  double scale = 0;  // max |reference|
  std::int64_t worst = -1;
};

inline Diff compare(const float* got, const float* want, std::int64_t n) {
  Diff d;
  for (std::int64_t i = 0; i < n; ++i) {
    d.scale = std::max(d.scale, static_cast<double>(std::fabs(want[i])));
    const double e = std::isnan(got[i]) != std::isnan(want[i]) ? INFINITY : std::fabs(double(got[i]) - want[i]);
    if (e > d.max_abs || (std::isinf(e) && d.worst < 0)) {
      d.max_abs = e;
      d.worst = i;
    }
  }
  return d;
}

// Checks max |got - want| <= atol + rtol * max |want|, and names the worst element.
#define DSVL_CHECK_CLOSE(got, want, n, atol, rtol)                                            \
  do {                                                                                        \
    const auto _d = ::dsvl::test::compare((got), (want), (n));                                \
    INFO("max abs error " << _d.max_abs << " at " << _d.worst << " (scale " << _d.scale << ")"); \
    CHECK(_d.max_abs <= (atol) + (rtol) * _d.scale);                                           \
  } while (0)

}  // namespace dsvl::test
