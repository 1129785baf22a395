#pragma once
// Top-k per row (torch.topk(x, k, dim=-1, largest=True, sorted=True)), for MoE routing:
//   values[t, :] = the k largest x[t, :] in descending order, indices[t, :] = their columns.
// x: (T, E) f32; values: (T, k) f32; indices: (T, k) int32; 0 <= k <= E (an error otherwise).
// Any row strides with contiguous last dimensions.
// Order: descending by value; equal values by ascending index, so the result is deterministic
// (torch.topk leaves the order of ties unspecified; the set of values is the same). NaN counts
// as larger than every number, +inf included (as in torch.topk), and NaNs keep index order among
// themselves; -0.0 and +0.0 are equal.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

namespace detail {
inline void check_topk(View<const float, 2> x, std::int64_t k, View<float, 2> values, View<std::int32_t, 2> indices) {
  constexpr const char* where = "kernels::topk";
  check_rows_view(where, "x", x);
  check_rows_view(where, "values", values);
  check_rows_view(where, "indices", indices);
  DSVL_CHECK(0 <= k && k <= x.shape(1), where, "k = ", k, " must be in [0, E = ", x.shape(1), "]");
  DSVL_CHECK(x.shape(1) <= INT32_MAX, where, "E = ", x.shape(1), " does not fit int32 indices");
  DSVL_CHECK(values.shape(0) == x.shape(0) && values.shape(1) == k, where, "values is (", values.shape(0), ", ",
             values.shape(1), "), expected (T, k) = (", x.shape(0), ", ", k, ")");
  DSVL_CHECK(indices.shape(0) == x.shape(0) && indices.shape(1) == k, where, "indices is (", indices.shape(0), ", ",
             indices.shape(1), "), expected (T, k) = (", x.shape(0), ", ", k, ")");
}

// True when (a, ia) comes before (b, ib) in the output order: larger first, NaN largest, ties by index.
inline bool topk_before(float a, std::int32_t ia, float b, std::int32_t ib) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na != nb) return na;
  if (!na && a != b) return a > b;
  return ia < ib;
}

// The reference for one row: a partial sort of the column indices.
inline void topk_row(const float* x, std::int64_t E, std::int64_t k, std::vector<std::int32_t>& order, float* values,
                     std::int32_t* indices) {
  order.resize(static_cast<std::size_t>(E));
  for (std::int64_t e = 0; e < E; ++e) order[static_cast<std::size_t>(e)] = static_cast<std::int32_t>(e);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [x](std::int32_t a, std::int32_t b) { return topk_before(x[a], a, x[b], b); });
  for (std::int64_t i = 0; i < k; ++i) {
    indices[i] = order[static_cast<std::size_t>(i)];
    values[i] = x[indices[i]];
  }
}
}  // namespace detail

inline void topk(scalar_tag, View<const float, 2> x, std::int64_t k, View<float, 2> values,
                 View<std::int32_t, 2> indices) {
  detail::check_topk(x, k, values, indices);
  std::vector<std::int32_t> order;
  for (std::int64_t t = 0; t < x.shape(0); ++t)
    detail::topk_row(x.data() + t * x.stride(0), x.shape(1), k, order, values.data() + t * values.stride(0),
                     indices.data() + t * indices.stride(0));
}

DSVL_DEVICE_KERNEL_REQUIRED(topk)

}  // namespace dsvl::kernels
