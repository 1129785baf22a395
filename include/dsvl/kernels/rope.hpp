#pragma once
// Rotary position embedding.
//
// rope_cos_sin builds the tables as transformers does in f32 (LlamaRotaryEmbedding,
// DeepseekV2RotaryEmbedding without scaling):
//   inv_freq[j] = 1 / theta^(f32(2j) / rotary_dim),  angle[t, j] = f32(positions[t]) * inv_freq[j],
//   cos[t, j] = cos(angle[t, j]),  sin[t, j] = sin(angle[t, j]),  j < rotary_dim / 2.
// positions: (T) int32; cos, sin: (T, rotary_dim / 2) f32, last dimension contiguous; rotary_dim even.
//
// rope_half and rope_interleaved rotate, in place, the first rotary_dim = 2 * cos.shape(1)
// dimensions of every head; the rest of the head is left alone.
// x: (T, H, Dh) f32, last dimension contiguous, any strides on T and H; cos, sin: (T, rotary_dim / 2).
//   rope_half (NeoX / LLaMA rotate_half, transformers apply_rotary_pos_emb): pairs (i, i + R/2),
//     x'[i] = x[i] cos_i - x[i + R/2] sin_i,   x'[i + R/2] = x[i + R/2] cos_i + x[i] sin_i.
//   rope_interleaved (GPT-J style; DeepSeek-V2 MLA's q_pe and k_pe): pairs (2j, 2j + 1),
//     x'[2j] = x[2j] cos_j - x[2j + 1] sin_j,  x'[2j + 1] = x[2j + 1] cos_j + x[2j] sin_j,
//     with the output kept in the interleaved order. DeepSeek-V2's apply_rotary_pos_emb first
//     de-interleaves to [x0, x2, ..., x1, x3, ...] and then applies rotate_half, so its output is
//     this one permuted to [evens, odds]. The permutation is the same for q_pe and k_pe, so q . k
//     (the only use) is unchanged. Equivalently, rope_half on a head whose dims were permuted to
//     [evens, odds] (a load-time permutation of the projection rows) equals rope_interleaved
//     followed by that permutation.

#include <cmath>
#include <cstdint>

#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

namespace detail {
inline void check_rope_tables(const char* where, std::int64_t T, View<const float, 2> cos, View<const float, 2> sin) {
  check_rows_view(where, "cos", cos);
  check_rows_view(where, "sin", sin);
  check_same_shape(where, "cos", cos, "sin", sin);
  DSVL_CHECK(cos.shape(0) == T, where, "cos has ", cos.shape(0), " rows, expected one per token (", T, ")");
}

inline void check_rope(const char* where, View<float, 3> x, View<const float, 2> cos, View<const float, 2> sin) {
  DSVL_CHECK(x.inner_contiguous(), where, "x must have a contiguous last dimension");
  check_rope_tables(where, x.shape(0), cos, sin);
  DSVL_CHECK(2 * cos.shape(1) <= x.shape(2), where, "rotary_dim ", 2 * cos.shape(1), " exceeds the head dim ",
             x.shape(2));
}

// The (t, h) head row of x.
inline float* rope_head_row(View<float, 3> x, std::int64_t t, std::int64_t h) {
  return x.data() + t * x.stride(0) + h * x.stride(1);
}
}  // namespace detail

inline void rope_cos_sin(View<const std::int32_t, 1> positions, float theta, std::int64_t rotary_dim,
                         View<float, 2> cos, View<float, 2> sin) {
  constexpr const char* where = "kernels::rope_cos_sin";
  DSVL_CHECK(rotary_dim >= 0 && rotary_dim % 2 == 0, where, "rotary_dim ", rotary_dim, " must be even");
  DSVL_CHECK(theta > 0.0f, where, "theta ", theta, " must be positive");
  detail::check_rope_tables(where, positions.shape(0), cos, sin);
  DSVL_CHECK(cos.shape(1) == rotary_dim / 2, where, "cos has ", cos.shape(1), " columns, expected rotary_dim / 2 = ",
             rotary_dim / 2);
  const std::int64_t half = rotary_dim / 2;
  for (std::int64_t t = 0; t < positions.shape(0); ++t) {
    const float pos = static_cast<float>(positions(t));
    float* c = cos.data() + t * cos.stride(0);
    float* s = sin.data() + t * sin.stride(0);
    for (std::int64_t j = 0; j < half; ++j) {
      const float exponent = static_cast<float>(2 * j) / static_cast<float>(rotary_dim);
      const float inv_freq = 1.0f / std::pow(theta, exponent);
      const float angle = pos * inv_freq;
      c[j] = std::cos(angle);
      s[j] = std::sin(angle);
    }
  }
}

inline void rope_half(scalar_tag, View<float, 3> x, View<const float, 2> cos, View<const float, 2> sin) {
  detail::check_rope("kernels::rope_half", x, cos, sin);
  const std::int64_t half = cos.shape(1);
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* c = cos.data() + t * cos.stride(0);
    const float* s = sin.data() + t * sin.stride(0);
    for (std::int64_t h = 0; h < x.shape(1); ++h) {
      float* v = detail::rope_head_row(x, t, h);
      for (std::int64_t i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * c[i] - b * s[i];
        v[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

inline void rope_interleaved(scalar_tag, View<float, 3> x, View<const float, 2> cos, View<const float, 2> sin) {
  detail::check_rope("kernels::rope_interleaved", x, cos, sin);
  const std::int64_t half = cos.shape(1);
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* c = cos.data() + t * cos.stride(0);
    const float* s = sin.data() + t * sin.stride(0);
    for (std::int64_t h = 0; h < x.shape(1); ++h) {
      float* v = detail::rope_head_row(x, t, h);
      for (std::int64_t j = 0; j < half; ++j) {
        const float a = v[2 * j], b = v[2 * j + 1];
        v[2 * j] = a * c[j] - b * s[j];
        v[2 * j + 1] = b * c[j] + a * s[j];
      }
    }
  }
}

DSVL_DEVICE_KERNEL_REQUIRED(rope_half)
DSVL_DEVICE_KERNEL_REQUIRED(rope_interleaved)

}  // namespace dsvl::kernels
