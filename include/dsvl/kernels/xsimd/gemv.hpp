#pragma once
#include <cstdint>
#include <utility>

#include "dsvl/kernels/gemv.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

namespace detail {
// Eight rows of w at a time on AVX-512 (32 vector registers), four elsewhere, two vectors of k per
// step: 16 or 8 independent accumulator chains and as many weight streams in flight, each vector of
// x loaded once for all the rows (more streams measured 10-15% closer to the read bandwidth).
template <class Arch>
struct XsimdGemvRows {
  using B = xsimd::batch<float, Arch>;
  static constexpr std::int64_t V = B::size;
  static constexpr int rows = V >= 16 ? 8 : 4;

  template <int R, class W>
  static void dot(const float* x, const W* w, std::int64_t ldw, std::int64_t K, float* out) {
    dot_rows(x, w, ldw, K, out, std::make_integer_sequence<std::int64_t, R>{});
  }

 private:
  template <class W, std::int64_t... I>
  static void dot_rows(const float* x, const W* w, std::int64_t ldw, std::int64_t K, float* out,
                       std::integer_sequence<std::int64_t, I...>) {
    B lo[sizeof...(I)], hi[sizeof...(I)];
    ((lo[I] = B(0.0f), hi[I] = B(0.0f)), ...);
    std::int64_t k = 0;
    for (; k + 2 * V <= K; k += 2 * V) {
      const B x0 = B::load_unaligned(x + k), x1 = B::load_unaligned(x + k + V);
      ((lo[I] = xsimd::fma(xs::load<Arch>(w + I * ldw + k), x0, lo[I]),
        hi[I] = xsimd::fma(xs::load<Arch>(w + I * ldw + k + V), x1, hi[I])),
       ...);
    }
    if (k + V <= K) {
      const B x0 = B::load_unaligned(x + k);
      ((lo[I] = xsimd::fma(xs::load<Arch>(w + I * ldw + k), x0, lo[I])), ...);
      k += V;
    }
    ((out[I] = xsimd::hadd(lo[I] + hi[I])), ...);
    for (; k < K; ++k) ((out[I] += to_f32(w[I * ldw + k]) * x[k]), ...);
  }
};
}  // namespace detail

template <class Arch>
inline constexpr bool native_v<op::gemv, xsimd_tag<Arch>> = true;

template <class Arch, class W>
void gemv(xsimd_tag<Arch>, View<const float, 1> x, View<const W, 2> w, View<const float, 1> bias, View<float, 1> y,
          ThreadPool& pool = ThreadPool::global()) {
  detail::check_gemv(x, w, bias, y);
  detail::gemv_rows<detail::XsimdGemvRows<Arch>>(x, w, bias, y, pool);
}

}  // namespace dsvl::kernels
