// The Highway row kernel of the shared GEMV row loop (gemv.hpp).
#if defined(DSVL_KERNELS_HWY_GEMV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_GEMV_INL_H_
#undef DSVL_KERNELS_HWY_GEMV_INL_H_
#else
#define DSVL_KERNELS_HWY_GEMV_INL_H_
#endif

#include <cstdint>
#include <utility>

#include "dsvl/kernels/hwy/simd-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

// Eight rows of w at a time on AVX-512 (32 vector registers), four elsewhere, two vectors of k per
// step: 16 or 8 independent accumulator chains and as many weight streams in flight, each vector of
// x loaded once for all the rows (more streams measured 10-15% closer to the read bandwidth).
struct GemvRows {
  using D = hn::ScalableTag<float>;
  static constexpr int rows = HWY_LANES(float) >= 16 ? 8 : 4;

  template <int R, class W>
  static void dot(const float* x, const W* w, std::int64_t ldw, std::int64_t K, float* out) {
    DotRows(x, w, ldw, K, out, std::make_integer_sequence<std::int64_t, R>{});
  }

 private:
  template <class W, std::int64_t... I>
  static HWY_INLINE void DotRows(const float* HWY_RESTRICT x, const W* HWY_RESTRICT w, std::int64_t ldw,
                                 std::int64_t K, float* out, std::integer_sequence<std::int64_t, I...>) {
    const D d;
    const std::int64_t V = static_cast<std::int64_t>(hn::Lanes(d));
    hn::Vec<D> lo[sizeof...(I)], hi[sizeof...(I)];
    ((lo[I] = hn::Zero(d), hi[I] = hn::Zero(d)), ...);
    std::int64_t k = 0;
    for (; k + 2 * V <= K; k += 2 * V) {
      const auto x0 = hn::LoadU(d, x + k), x1 = hn::LoadU(d, x + k + V);
      ((lo[I] = hn::MulAdd(LoadF32(d, w + I * ldw + k), x0, lo[I]),
        hi[I] = hn::MulAdd(LoadF32(d, w + I * ldw + k + V), x1, hi[I])),
       ...);
    }
    if (k + V <= K) {
      const auto x0 = hn::LoadU(d, x + k);
      ((lo[I] = hn::MulAdd(LoadF32(d, w + I * ldw + k), x0, lo[I])), ...);
      k += V;
    }
    ((out[I] = SumLanes(d, hn::Add(lo[I], hi[I]))), ...);
    for (; k < K; ++k) ((out[I] += to_f32(w[I * ldw + k]) * x[k]), ...);
  }
};

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
