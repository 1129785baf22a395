#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "dsvl/kernels/pixel_unshuffle.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

namespace detail {
// p[idx[0]], ..., p[idx[L-1]] as one batch: a gather instruction on AVX2 and AVX-512 (xsimd
// 8.1 has none for SSE, where the lanes are loaded one by one).
template <class Arch>
xs::fbatch<Arch> xsimd_gather(const float* p, const std::int32_t* idx) {
  using B = xs::fbatch<Arch>;
  if constexpr (std::is_base_of_v<xsimd::avx2, Arch> || std::is_base_of_v<xsimd::avx512f, Arch>) {
    return B::gather(p, xsimd::batch<std::int32_t, Arch>::load_unaligned(idx));
  } else {
    alignas(64) float t[B::size];
    for (std::size_t i = 0; i < B::size; ++i) t[i] = p[idx[i]];
    return B::load_aligned(t);
  }
}
}  // namespace detail

template <class Arch>
inline constexpr bool native_v<op::pixel_unshuffle, xsimd_tag<Arch>> = true;

template <class Arch>
void pixel_unshuffle(xsimd_tag<Arch>, View<const float, 3> x, std::int64_t r, View<float, 3> y) {
  detail::check_pixel_unshuffle(x, r, y);
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t C = x.shape(0), Ho = y.shape(1), Wo = y.shape(2), Wv = Wo - Wo % L;
  alignas(64) std::int32_t stride_idx[L];  // lane l reads column l*r of the block row
  for (std::int64_t l = 0; l < L; ++l) stride_idx[l] = static_cast<std::int32_t>(l * r);
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t i = 0; i < r; ++i)
      for (std::int64_t h = 0; h < Ho; ++h) {
        const float* src = x.data() + c * x.stride(0) + (h * r + i) * x.stride(1);
        float* dst0 = y.data() + (c * r * r + i * r) * y.stride(0) + h * y.stride(1);
        if (r == 1) {
          std::copy(src, src + Wo, dst0);
          continue;
        }
        for (std::int64_t j = 0; j < r; ++j) {
          float* dst = dst0 + j * y.stride(0);
          std::int64_t w = 0;
          for (; w < Wv; w += L) detail::xsimd_gather<Arch>(src + w * r + j, stride_idx).store_unaligned(dst + w);
          for (; w < Wo; ++w) dst[w] = src[w * r + j];
        }
      }
}

}  // namespace dsvl::kernels
