#pragma once
#include <algorithm>
#include <cmath>
#include <limits>

#include "dsvl/kernels/softmax.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

template <class Arch>
inline constexpr bool native_v<op::softmax, xsimd_tag<Arch>> = true;

namespace detail {
// Softmax of scale * row[0, n) in place. xsimd::exp is exactly 0 for -inf.
template <class Arch>
void xsimd_softmax_row(float* row, std::int64_t n, float scale) {
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const std::int64_t nv = n - n % L;
  const B sv(scale);
  B mx(kNegInf);
  std::int64_t i = 0;
  for (; i < nv; i += L) mx = xsimd::max(mx, sv * B::load_unaligned(row + i));
  alignas(64) float lanes[L];
  mx.store_aligned(lanes);
  float m = *std::max_element(lanes, lanes + L);
  for (; i < n; ++i) m = std::max(m, scale * row[i]);
  if (m == kNegInf) {
    std::fill(row, row + n, 0.0f);
    return;
  }
  const B mv(m);
  B acc(0.0f);
  for (i = 0; i < nv; i += L) {
    const B e = xsimd::exp(sv * B::load_unaligned(row + i) - mv);
    acc += e;
    e.store_unaligned(row + i);
  }
  float sum = xsimd::hadd(acc);
  for (; i < n; ++i) {
    row[i] = std::exp(scale * row[i] - m);
    sum += row[i];
  }
  const float inv = 1.0f / sum;
  const B iv(inv);
  for (i = 0; i < nv; i += L) (B::load_unaligned(row + i) * iv).store_unaligned(row + i);
  for (; i < n; ++i) row[i] *= inv;
}
}  // namespace detail

template <class Arch>
void softmax(xsimd_tag<Arch>, View<float, 2> x, float scale = 1.0f, SoftmaxMask mask = {}) {
  detail::check_softmax(x);
  const std::int64_t S = x.shape(1);
  for (std::int64_t r = 0; r < x.shape(0); ++r) {
    float* xr = x.data() + r * x.stride(0);
    const std::int64_t n = detail::softmax_row_length(r, S, mask);
    std::fill(xr + n, xr + S, 0.0f);
    detail::xsimd_softmax_row<Arch>(xr, n, scale);
  }
}

}  // namespace dsvl::kernels
