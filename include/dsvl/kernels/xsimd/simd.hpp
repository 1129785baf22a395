#pragma once
// Helpers shared by the xsimd kernels: loads that widen bf16 to f32 batches, and gathers.
// xsimd has no u16 -> u32 widening load, so the widening uses the instruction set's own
// zero-extension (one instruction on SSE4.1, AVX2, AVX-512).

#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "dsvl/core/dtype.hpp"
#include "dsvl/policy/xsimd_tag.hpp"

#if defined(__SSE4_1__) || defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace dsvl::kernels::xs {

template <class Arch>
using fbatch = xsimd::batch<float, Arch>;

template <class Arch>
inline constexpr std::size_t lanes = fbatch<Arch>::size;

template <class Arch>
inline fbatch<Arch> load(const float* p) noexcept {
  return fbatch<Arch>::load_unaligned(p);
}

template <class Arch>
inline fbatch<Arch> load(const bf16* p) noexcept {
  using B = fbatch<Arch>;
  constexpr std::size_t L = B::size;
#if defined(__AVX512F__)
  if constexpr (L == 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return B(_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
#endif
#if defined(__AVX2__)
  if constexpr (L == 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return B(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
  }
#endif
#if defined(__SSE4_1__)
  if constexpr (L == 4) {
    const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return B(_mm_castsi128_ps(_mm_slli_epi32(_mm_cvtepu16_epi32(h), 16)));
  }
#endif
  alignas(64) float tmp[L];
  for (std::size_t i = 0; i < L; ++i) tmp[i] = p[i].to_float();
  return B::load_aligned(tmp);
}

// p[idx[0]], ..., p[idx[L-1]] as one batch. xsimd 8.1 has no f32 gather for SSE and its AVX-512
// overloads are never selected, so the gather instructions are called directly; SSE loads lane by
// lane.
template <class Arch>
inline fbatch<Arch> gather(const float* p, const std::int32_t* idx) noexcept {
  using B = fbatch<Arch>;
#if defined(__AVX512F__)
  if constexpr (B::size == 16) return B(_mm512_i32gather_ps(_mm512_loadu_si512(idx), p, 4));
#endif
#if defined(__AVX2__)
  if constexpr (B::size == 8)
    return B(_mm256_i32gather_ps(p, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), 4));
#endif
  alignas(64) float t[B::size];
  for (std::size_t i = 0; i < B::size; ++i) t[i] = p[idx[i]];
  return B::load_aligned(t);
}

}  // namespace dsvl::kernels::xs
