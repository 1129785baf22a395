#if defined(DSVL_KERNELS_HWY_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_SOFTMAX_INL_H_
#undef DSVL_KERNELS_HWY_SOFTMAX_INL_H_
#else
#define DSVL_KERNELS_HWY_SOFTMAX_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <limits>

#include <hwy/contrib/math/math-inl.h>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

// Softmax of scale * row[0, n) in place. Exp is Highway's (1 ulp; exactly 0 below -104, so -inf
// entries vanish).
inline void SoftmaxRow(float* row, std::int64_t n, float scale) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t nv = n - n % L;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const auto sv = hn::Set(d, scale);
  auto mx = hn::Set(d, kNegInf);
  std::int64_t i = 0;
  for (; i < nv; i += L) mx = hn::Max(mx, hn::Mul(sv, hn::LoadU(d, row + i)));
  float m = hn::GetLane(hn::MaxOfLanes(d, mx));
  for (; i < n; ++i) m = std::max(m, scale * row[i]);
  if (m == kNegInf) {
    std::fill(row, row + n, 0.0f);
    return;
  }
  const auto mv = hn::Set(d, m);
  auto acc = hn::Zero(d);
  for (i = 0; i < nv; i += L) {
    const auto e = hn::Exp(d, hn::Sub(hn::Mul(sv, hn::LoadU(d, row + i)), mv));
    acc = hn::Add(acc, e);
    hn::StoreU(e, d, row + i);
  }
  float sum = SumLanes(d, acc);
  for (; i < n; ++i) {
    row[i] = std::exp(scale * row[i] - m);
    sum += row[i];
  }
  const float inv = 1.0f / sum;
  const auto iv = hn::Set(d, inv);
  for (i = 0; i < nv; i += L) hn::StoreU(hn::Mul(hn::LoadU(d, row + i), iv), d, row + i);
  for (; i < n; ++i) row[i] *= inv;
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
