#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "dsvl/kernels/topk.hpp"
#include "dsvl/kernels/xsimd/simd.hpp"

namespace dsvl::kernels {

template <class Arch>
inline constexpr bool native_v<op::topk, xsimd_tag<Arch>> = true;

// k passes of a vector argmax per row. Pass n finds the first element, in the output order,
// among those after the previous pick (pv, pi): value < pv, or value == pv at a larger index.
// Each lane keeps its best (value, index); indices are held as f32, exact below 2^24. Rows with
// a NaN (and E >= 2^24) take the reference path.
template <class Arch>
void topk(xsimd_tag<Arch>, View<const float, 2> x, std::int64_t k, View<float, 2> values,
          View<std::int32_t, 2> indices) {
  detail::check_topk(x, k, values, indices);
  using B = xs::fbatch<Arch>;
  constexpr std::int64_t L = B::size;
  const std::int64_t E = x.shape(1), Ev = E - E % L;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  alignas(64) float iota[L], lane_v[L], lane_i[L];
  for (std::int64_t l = 0; l < L; ++l) iota[l] = static_cast<float>(l);
  const B lane_iota = B::load_aligned(iota), step(static_cast<float>(L)), none(static_cast<float>(E));
  std::vector<std::int32_t> order;
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* xr = x.data() + t * x.stride(0);
    float* vr = values.data() + t * values.stride(0);
    std::int32_t* ir = indices.data() + t * indices.stride(0);
    bool has_nan = false;
    for (std::int64_t e = 0; e < Ev; e += L) has_nan |= xsimd::any(xsimd::isnan(B::load_unaligned(xr + e)));
    for (std::int64_t e = Ev; e < E; ++e) has_nan |= std::isnan(xr[e]);
    if (has_nan || E >= (std::int64_t{1} << 24)) {
      detail::topk_row(xr, E, k, order, vr, ir);
      continue;
    }
    float pv = kInf, pi = -1.0f;  // before every finite value and +inf at index 0
    for (std::int64_t n = 0; n < k; ++n) {
      B bv(-kInf), bi = none, idx = lane_iota;
      const B pvb(pv), pib(pi);
      for (std::int64_t e = 0; e < Ev; e += L, idx += step) {
        const B v = B::load_unaligned(xr + e);
        const auto after_prev = (v < pvb) | ((v == pvb) & (idx > pib));
        const auto better = (v > bv) | ((v == bv) & (idx < bi));
        const auto take = after_prev & better;
        bv = xsimd::select(take, v, bv);
        bi = xsimd::select(take, idx, bi);
      }
      bv.store_aligned(lane_v);
      bi.store_aligned(lane_i);
      float mv = -kInf, mi = static_cast<float>(E);
      auto consider = [&](float v, float i) {
        if ((v < pv || (v == pv && i > pi)) && (v > mv || (v == mv && i < mi))) {
          mv = v;
          mi = i;
        }
      };
      for (std::int64_t l = 0; l < L; ++l)  // lanes hold candidates or none (index E)
        if (lane_v[l] > mv || (lane_v[l] == mv && lane_i[l] < mi)) {
          mv = lane_v[l];
          mi = lane_i[l];
        }
      for (std::int64_t e = Ev; e < E; ++e) consider(xr[e], static_cast<float>(e));
      ir[n] = static_cast<std::int32_t>(mi);
      vr[n] = xr[ir[n]];
      pv = mv;
      pi = mi;
    }
  }
}

}  // namespace dsvl::kernels
