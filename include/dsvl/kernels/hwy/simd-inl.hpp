// Helpers shared by the Highway kernels (re-includable per target, Highway's -inl convention).
#if defined(DSVL_KERNELS_HWY_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_SIMD_INL_H_
#undef DSVL_KERNELS_HWY_SIMD_INL_H_
#else
#define DSVL_KERNELS_HWY_SIMD_INL_H_
#endif

#include <cstdint>

#include <hwy/highway.h>

#include "dsvl/core/dtype.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Loads Lanes(d) values as f32, widening bf16.
template <class D>
HWY_INLINE hn::Vec<D> LoadF32(D d, const float* p) {
  return hn::LoadU(d, p);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadF32(D d, const bf16* p) {
  const hn::Rebind<hwy::bfloat16_t, D> dbf;
  return hn::PromoteTo(d, hn::LoadU(dbf, reinterpret_cast<const hwy::bfloat16_t*>(p)));
}

template <class D>
HWY_INLINE float SumLanes(D d, hn::Vec<D> v) {
  return hn::GetLane(hn::SumOfLanes(d, v));
}

// sum_i a[i] b[i], b f32 or bf16 (widened exactly).
template <class B>
float Dot(const float* a, const B* b, std::int64_t n) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  std::int64_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), LoadF32(d, b + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, a + i + L), LoadF32(d, b + i + L), acc1);
  }
  for (; i + L <= n; i += L) acc0 = hn::MulAdd(hn::LoadU(d, a + i), LoadF32(d, b + i), acc0);
  float sum = SumLanes(d, hn::Add(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * to_f32(b[i]);
  return sum;
}

// dst[0, n) = src[0, n) as f32, src f32 or bf16.
template <class T>
void CopyF32(const T* src, std::int64_t n, float* dst) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  std::int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(LoadF32(d, src + i), d, dst + i);
  for (; i < n; ++i) dst[i] = to_f32(src[i]);
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
