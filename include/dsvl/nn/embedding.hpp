#pragma once
// Embedding lookup (torch.nn.Embedding): out[t] = table[ids[t]], widened to f32.

#include <cstdint>
#include <span>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/view.hpp"

namespace dsvl::nn {

// table: (V, D); out: (T, D) for T ids. Errors, prefixed by `where`, name an id outside [0, V)
// and its position.
template <class W>
void embedding(View<const W, 2> table, std::span<const std::int32_t> ids, View<float, 2> out, const char* where) {
  const std::int64_t V = table.shape(0), D = table.shape(1);
  DSVL_CHECK(out.shape(0) == static_cast<std::int64_t>(ids.size()) && out.shape(1) == D && out.inner_contiguous(),
             where, "out is (", out.shape(0), ", ", out.shape(1), "), expected (", ids.size(), ", ", D, ")");
  for (std::size_t t = 0; t < ids.size(); ++t) {
    const std::int32_t id = ids[t];
    if (id < 0 || id >= V) fail(where, "token id ", id, " at position ", t, " is outside [0, ", V, ")");
    const W* row = table.data() + id * table.stride(0);
    float* dst = out.data() + static_cast<std::int64_t>(t) * out.stride(0);
    for (std::int64_t i = 0; i < D; ++i) dst[i] = to_f32(row[i]);
  }
}

}  // namespace dsvl::nn
