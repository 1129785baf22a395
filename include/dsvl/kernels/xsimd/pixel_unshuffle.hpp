#pragma once
#include <cstdint>

#include "dsvl/kernels/pixel_unshuffle.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

namespace detail {
// p[idx[0]], ..., p[idx[L-1]] as one batch. xsimd 8.1 has no f32 gather for SSE or AVX-512
// (its AVX-512 overloads are never selected), so the gather instructions are called directly,
// as simd.hpp does for widening loads; SSE loads lane by lane.
template <class Arch>
xs::fbatch<Arch> xsimd_gather(const float* p, const std::int32_t* idx) {
  using B = xs::fbatch<Arch>;
#if defined(__AVX512F__)
  if constexpr (B::size == 16) return B(_mm512_i32gather_ps(_mm512_loadu_si512(idx), p, 4));
#endif
#if defined(__AVX2__)
  if constexpr (B::size == 8) return B(_mm256_i32gather_ps(p, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), 4));
#endif
  alignas(64) float t[B::size];
  for (std::size_t i = 0; i < B::size; ++i) t[i] = p[idx[i]];
  return B::load_aligned(t);
}
}  // namespace detail

template <class Arch>
inline constexpr bool native_v<op::pixel_unshuffle, xsimd_tag<Arch>> = true;

template <class Arch>
void pixel_unshuffle(xsimd_tag<Arch>, View<const float, 3> x, std::int64_t r, View<float, 3> y) {
  detail::check_pixel_unshuffle(x, r, y);
  constexpr std::int64_t L = xs::fbatch<Arch>::size;
  const detail::UnshuffleSegments seg = detail::unshuffle_segments(x, r, y);
  const std::int32_t* off = seg.offset.data();
  const std::int64_t n = seg.length, nv = n - n % L;
  for (std::int64_t c = 0; c < x.shape(0); ++c)
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t j = 0; j < r; ++j)
        for (std::int64_t g = 0; g < seg.count; ++g) {
          const float* src = x.data() + c * x.stride(0) + i * x.stride(1) + j + g * seg.x_step;
          float* dst = y.data() + (c * r * r + i * r + j) * y.stride(0) + g * seg.y_step;
          std::int64_t q = 0;
          for (; q < nv; q += L) detail::xsimd_gather<Arch>(src, off + q).store_unaligned(dst + q);
          for (; q < n; ++q) dst[q] = src[off[q]];
        }
}

}  // namespace dsvl::kernels
