#pragma once
#include "dsvl/kernels/rms_norm.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

template <class Arch>
inline constexpr bool native_v<op::rms_norm, xsimd_tag<Arch>> = true;

template <class Arch, class W>
void rms_norm(xsimd_tag<Arch>, View<const float, 2> x, View<const W, 1> w, float eps, View<float, 2> y) {
  detail::check_rms_norm(x, w, y);
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t D = x.shape(1), Dv = D - D % L;
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* xr = x.data() + t * x.stride(0);
    float* yr = y.data() + t * y.stride(0);
    B acc(0.0f);
    std::int64_t i = 0;
    for (; i < Dv; i += L) {
      const B v = B::load_unaligned(xr + i);
      acc = xsimd::fma(v, v, acc);
    }
    float ss = xsimd::hadd(acc);
    for (; i < D; ++i) ss += xr[i] * xr[i];
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(D) + eps);
    const B rv(r);
    for (i = 0; i < Dv; i += L) (xs::load<Arch>(w.data() + i) * (B::load_unaligned(xr + i) * rv)).store_unaligned(yr + i);
    for (; i < D; ++i) yr[i] = to_f32(w.data()[i]) * (xr[i] * r);
  }
}

}  // namespace dsvl::kernels
