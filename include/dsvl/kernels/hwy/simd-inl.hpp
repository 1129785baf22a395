// Helpers shared by the Highway kernels (re-includable per target, Highway's -inl convention).
#if defined(DSVL_KERNELS_HWY_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_SIMD_INL_H_
#undef DSVL_KERNELS_HWY_SIMD_INL_H_
#else
#define DSVL_KERNELS_HWY_SIMD_INL_H_
#endif

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

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
