#pragma once
#include <cstdint>
#include <utility>

#include "dsvl/kernels/gemm.hpp"
#include "dsvl/kernels/gemm_packed.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

namespace detail {
// The register tile of gemm_packed: mr rows x 2 vectors of c in 2 mr accumulators, each k one
// broadcast of a per row and two vector loads of w. 32 vector registers (AVX-512) hold a 12 x 2
// tile, 16 (AVX2, SSE) a 6 x 2 tile, with registers left for the operands.
template <class Arch>
struct XsimdGemmTile {
  using B = xsimd::batch<float, Arch>;
  static constexpr std::int64_t V = B::size;
  static constexpr std::int64_t mr = V >= 16 ? 12 : 6;
  static constexpr std::int64_t nr = 2 * V;

  static void tile(std::int64_t kc, const float* ap, const float* wp, const float* bias, float* c, std::int64_t ldc,
                   bool accumulate) {
    tile_rows(kc, ap, wp, bias, c, ldc, accumulate, std::make_index_sequence<mr>{});
  }

 private:
  template <std::size_t... I>
  static void tile_rows(std::int64_t kc, const float* ap, const float* wp, const float* bias, float* c,
                        std::int64_t ldc, bool accumulate, std::index_sequence<I...>) {
    B lo[mr], hi[mr];
    ((lo[I] = B(0.0f), hi[I] = B(0.0f)), ...);
    for (std::int64_t k = 0; k < kc; ++k, ap += mr, wp += nr) {
      const B w0 = B::load_aligned(wp), w1 = B::load_aligned(wp + V);
      ((lo[I] = xsimd::fma(B(ap[I]), w0, lo[I]), hi[I] = xsimd::fma(B(ap[I]), w1, hi[I])), ...);
    }
    if (accumulate) {
      ((lo[I] += B::load_unaligned(c + I * ldc), hi[I] += B::load_unaligned(c + I * ldc + V)), ...);
    } else if (bias) {
      const B b0 = B::load_unaligned(bias), b1 = B::load_unaligned(bias + V);
      ((lo[I] += b0, hi[I] += b1), ...);
    }
    ((lo[I].store_unaligned(c + I * ldc), hi[I].store_unaligned(c + I * ldc + V)), ...);
  }
};
}  // namespace detail

template <class Arch>
inline constexpr bool native_v<op::gemm, xsimd_tag<Arch>> = true;

template <class Arch, class W>
void gemm(xsimd_tag<Arch>, View<const float, 2> a, View<const W, 2> w, View<const float, 1> bias, View<float, 2> c,
          ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemm(a, w, bias, c);
  detail::gemm_packed<detail::XsimdGemmTile<Arch>>(a, w, bias, c, pool);
}

}  // namespace dsvl::kernels
