#pragma once
// What the cases report about their weight matrices: the bytes a matrix of N rows of K takes and
// the name of its type, for dense element types and the quantized formats alike.

#include <cstdint>
#include <type_traits>

#include "dsvl/core/quant.hpp"

namespace dsvl::bench {

template <class W>
double matrix_bytes(std::int64_t N, std::int64_t K) {
  if constexpr (is_quant_format_v<W>)
    return static_cast<double>(N) * (quant::row_bytes<W>(K) + 2 * quant::groups<W>(K));
  else
    return static_cast<double>(sizeof(W)) * static_cast<double>(N) * static_cast<double>(K);
}

template <class W>
constexpr const char* weight_dtype() {
  if constexpr (is_quant_format_v<W>)
    return W::bits == 8 ? "q8" : "q4";
  else
    return std::is_same_v<W, bf16> ? "bf16" : "f32";
}

}  // namespace dsvl::bench
