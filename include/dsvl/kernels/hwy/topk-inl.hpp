#if defined(DSVL_KERNELS_HWY_TOPK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_TOPK_INL_H_
#undef DSVL_KERNELS_HWY_TOPK_INL_H_
#else
#define DSVL_KERNELS_HWY_TOPK_INL_H_
#endif

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"
#include "dsvl/kernels/topk.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

// k passes of a vector argmax per row. Pass n finds the first element, in the output order,
// among those after the previous pick (pv, pi): value < pv, or value == pv at a larger index.
// Each lane keeps its best (value, index); indices are held as f32, exact below 2^24. Rows with
// a NaN (and E >= 2^24) take the reference path.
inline void TopK(View<const float, 2> x, std::int64_t k, View<float, 2> values, View<std::int32_t, 2> indices) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t E = x.shape(1), Ev = E - E % L;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  std::vector<std::int32_t> order;
  const V step = hn::Set(d, static_cast<float>(L)), none = hn::Set(d, static_cast<float>(E));
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* xr = x.data() + t * x.stride(0);
    float* vr = values.data() + t * values.stride(0);
    std::int32_t* ir = indices.data() + t * indices.stride(0);
    bool has_nan = false;
    for (std::int64_t e = 0; e < Ev; e += L) has_nan |= !hn::AllFalse(d, hn::IsNaN(hn::LoadU(d, xr + e)));
    for (std::int64_t e = Ev; e < E; ++e) has_nan |= std::isnan(xr[e]);
    if (has_nan || E >= (std::int64_t{1} << 24)) {
      kernels::detail::topk_row(xr, E, k, order, vr, ir);
      continue;
    }
    float pv = kInf, pi = -1.0f;  // before every finite value and +inf at index 0
    for (std::int64_t n = 0; n < k; ++n) {
      V bv = hn::Set(d, -kInf), bi = none, idx = hn::Iota(d, 0.0f);
      const V pvb = hn::Set(d, pv), pib = hn::Set(d, pi);
      for (std::int64_t e = 0; e < Ev; e += L, idx = hn::Add(idx, step)) {
        const V v = hn::LoadU(d, xr + e);
        const auto after_prev = hn::Or(hn::Lt(v, pvb), hn::And(hn::Eq(v, pvb), hn::Gt(idx, pib)));
        const auto better = hn::Or(hn::Gt(v, bv), hn::And(hn::Eq(v, bv), hn::Lt(idx, bi)));
        const auto take = hn::And(after_prev, better);
        bv = hn::IfThenElse(take, v, bv);
        bi = hn::IfThenElse(take, idx, bi);
      }
      // The best lane: largest value, then lowest index (lanes without a candidate hold none).
      const V top = hn::MaxOfLanes(d, bv);
      float mv = hn::GetLane(top), mi = hn::GetLane(hn::MinOfLanes(d, hn::IfThenElse(hn::Eq(bv, top), bi, none)));
      auto consider = [&](float v, float i) {
        if ((v < pv || (v == pv && i > pi)) && (v > mv || (v == mv && i < mi))) {
          mv = v;
          mi = i;
        }
      };
      for (std::int64_t e = Ev; e < E; ++e) consider(xr[e], static_cast<float>(e));
      ir[n] = static_cast<std::int32_t>(mi);
      vr[n] = xr[ir[n]];
      pv = mv;
      pi = mi;
    }
  }
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
