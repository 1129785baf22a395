#pragma once
// Row softmax in place (torch.softmax(scale * x, dim=-1) with a boolean mask, as in attention):
//   x[r, s] = exp(scale * x[r, s] - m_r) / sum_{s' unmasked} exp(scale * x[r, s'] - m_r),
//   m_r = max_{s' unmasked} scale * x[r, s'].
// x: (R, S) f32, last dimension contiguous, any row stride.
// Masking (both may be on at once): with mask.causal_offset >= 0, column s of row r is masked when
// s > r + causal_offset (a decode or chunked-prefill step passes the number of cached tokens before
// row 0); with mask.valid >= 0, columns s >= valid are masked (key padding). Masked entries become
// exactly 0. A row with no unmasked entry, or whose unmasked entries are all -inf, becomes all zeros
// (PyTorch would give NaN). Subtracting the row maximum keeps large finite inputs (1e30) and -inf
// entries from overflowing; +inf or NaN inputs give unspecified values (NaN in the reference).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

struct SoftmaxMask {
  std::int64_t causal_offset = -1;
  std::int64_t valid = -1;
};

namespace detail {
inline void check_softmax(View<float, 2> x) { check_rows_view("kernels::softmax", "x", x); }

// Number of leading unmasked columns of row r.
inline std::int64_t softmax_row_length(std::int64_t r, std::int64_t S, SoftmaxMask mask) {
  std::int64_t n = S;
  if (mask.valid >= 0) n = std::min(n, mask.valid);
  if (mask.causal_offset >= 0) n = std::min(n, r + mask.causal_offset + 1);
  return n;
}
}  // namespace detail

inline void softmax(scalar_tag, View<float, 2> x, float scale = 1.0f, SoftmaxMask mask = {}) {
  detail::check_softmax(x);
  const std::int64_t S = x.shape(1);
  for (std::int64_t r = 0; r < x.shape(0); ++r) {
    float* xr = x.data() + r * x.stride(0);
    const std::int64_t n = detail::softmax_row_length(r, S, mask);
    std::fill(xr + n, xr + S, 0.0f);
    float m = -std::numeric_limits<float>::infinity();
    for (std::int64_t s = 0; s < n; ++s) m = std::max(m, scale * xr[s]);
    if (m == -std::numeric_limits<float>::infinity()) {
      std::fill(xr, xr + n, 0.0f);
      continue;
    }
    float sum = 0.0f;
    for (std::int64_t s = 0; s < n; ++s) {
      xr[s] = std::exp(scale * xr[s] - m);
      sum += xr[s];
    }
    const float inv = 1.0f / sum;
    for (std::int64_t s = 0; s < n; ++s) xr[s] *= inv;
  }
}

DSVL_DEVICE_KERNEL_REQUIRED(softmax)

}  // namespace dsvl::kernels
