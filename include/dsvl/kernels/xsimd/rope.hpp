#pragma once
#include <algorithm>

#include "dsvl/kernels/rope.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

template <class Arch>
inline constexpr bool native_v<op::rope_half, xsimd_tag<Arch>> = true;
template <class Arch>
inline constexpr bool native_v<op::rope_interleaved, xsimd_tag<Arch>> = true;

template <class Arch>
void rope_half(xsimd_tag<Arch>, View<float, 3> x, View<const float, 2> cos, View<const float, 2> sin) {
  detail::check_rope("kernels::rope_half", x, cos, sin);
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t half = cos.shape(1), nv = half - half % L;
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* c = cos.data() + t * cos.stride(0);
    const float* s = sin.data() + t * sin.stride(0);
    for (std::int64_t h = 0; h < x.shape(1); ++h) {
      float* v = detail::rope_head_row(x, t, h);
      std::int64_t i = 0;
      for (; i < nv; i += L) {
        const B a = B::load_unaligned(v + i), b = B::load_unaligned(v + half + i);
        const B cv = B::load_unaligned(c + i), sv = B::load_unaligned(s + i);
        xsimd::fnma(b, sv, a * cv).store_unaligned(v + i);
        xsimd::fma(a, sv, b * cv).store_unaligned(v + half + i);
      }
      for (; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * c[i] - b * s[i];
        v[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

namespace detail {
// Lane index i ^ 1: swaps the two lanes of every pair.
struct XsimdSwapPairs {
  static constexpr unsigned get(unsigned i, unsigned) { return i ^ 1u; }
};
}  // namespace detail

// Pairs (2j, 2j+1): x' = x * [c_j, c_j] + swap(x) * [-s_j, s_j]. The duplicated, signed tables are
// built once per token and block of pairs, then reused by every head.
template <class Arch>
void rope_interleaved(xsimd_tag<Arch>, View<float, 3> x, View<const float, 2> cos, View<const float, 2> sin) {
  detail::check_rope("kernels::rope_interleaved", x, cos, sin);
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  constexpr std::int64_t kPairBlock = 64;
  constexpr auto swap = xsimd::make_batch_constant<xsimd::batch<std::uint32_t, Arch>, detail::XsimdSwapPairs>();
  alignas(64) float cd[2 * kPairBlock], sd[2 * kPairBlock];
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* c = cos.data() + t * cos.stride(0);
    const float* s = sin.data() + t * sin.stride(0);
    for (std::int64_t j0 = 0; j0 < cos.shape(1); j0 += kPairBlock) {
      const std::int64_t pairs = std::min(kPairBlock, cos.shape(1) - j0), n = 2 * pairs, nv = n - n % L;
      for (std::int64_t j = 0; j < pairs; ++j) {
        cd[2 * j] = cd[2 * j + 1] = c[j0 + j];
        sd[2 * j] = -s[j0 + j];
        sd[2 * j + 1] = s[j0 + j];
      }
      for (std::int64_t h = 0; h < x.shape(1); ++h) {
        float* v = detail::rope_head_row(x, t, h) + 2 * j0;
        std::int64_t i = 0;
        for (; i < nv; i += L) {
          const B a = B::load_unaligned(v + i);
          xsimd::fma(xsimd::swizzle(a, swap), B::load_aligned(sd + i), a * B::load_aligned(cd + i)).store_unaligned(v + i);
        }
        for (; i < n; i += 2) {
          const float a = v[i], b = v[i + 1], cj = cd[i], sj = sd[i + 1];
          v[i] = a * cj - b * sj;
          v[i + 1] = b * cj + a * sj;
        }
      }
    }
  }
}

}  // namespace dsvl::kernels
