#if defined(DSVL_KERNELS_HWY_ROPE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_ROPE_INL_H_
#undef DSVL_KERNELS_HWY_ROPE_INL_H_
#else
#define DSVL_KERNELS_HWY_ROPE_INL_H_
#endif

#include <algorithm>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

inline void RopeHalf(View<float, 3> x, View<const float, 2> cos, View<const float, 2> sin) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  const std::int64_t half = cos.shape(1), nv = half - half % L;
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* c = cos.data() + t * cos.stride(0);
    const float* s = sin.data() + t * sin.stride(0);
    for (std::int64_t h = 0; h < x.shape(1); ++h) {
      float* v = x.data() + t * x.stride(0) + h * x.stride(1);
      std::int64_t i = 0;
      for (; i < nv; i += L) {
        const auto a = hn::LoadU(d, v + i), b = hn::LoadU(d, v + half + i);
        const auto cv = hn::LoadU(d, c + i), sv = hn::LoadU(d, s + i);
        hn::StoreU(hn::NegMulAdd(b, sv, hn::Mul(a, cv)), d, v + i);
        hn::StoreU(hn::MulAdd(a, sv, hn::Mul(b, cv)), d, v + half + i);
      }
      for (; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * c[i] - b * s[i];
        v[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

// Pairs (2j, 2j+1): x' = x * [c_j, c_j] + swap(x) * [-s_j, s_j]. The duplicated, signed tables are
// built once per token and block of pairs, then reused by every head.
inline void RopeInterleaved(View<float, 3> x, View<const float, 2> cos, View<const float, 2> sin) {
  constexpr std::int64_t kPairBlock = 64;
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  HWY_ALIGN float cd[2 * kPairBlock], sd[2 * kPairBlock];
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* c = cos.data() + t * cos.stride(0);
    const float* s = sin.data() + t * sin.stride(0);
    for (std::int64_t j0 = 0; j0 < cos.shape(1); j0 += kPairBlock) {
      const std::int64_t pairs = std::min(kPairBlock, cos.shape(1) - j0), n = 2 * pairs;
      const std::int64_t nv = L >= 2 ? n - n % L : 0;  // a 1-lane target has no pair to swap
      for (std::int64_t j = 0; j < pairs; ++j) {
        cd[2 * j] = cd[2 * j + 1] = c[j0 + j];
        sd[2 * j] = -s[j0 + j];
        sd[2 * j + 1] = s[j0 + j];
      }
      for (std::int64_t h = 0; h < x.shape(1); ++h) {
        float* v = x.data() + t * x.stride(0) + h * x.stride(1) + 2 * j0;
        std::int64_t i = 0;
        for (; i < nv; i += L) {
          const auto a = hn::LoadU(d, v + i);
          hn::StoreU(hn::MulAdd(hn::Reverse2(d, a), hn::Load(d, sd + i), hn::Mul(a, hn::Load(d, cd + i))), d, v + i);
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

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
