#pragma once
#include "dsvl/kernels/hwy/softmax-inl.hpp"
#include "dsvl/kernels/softmax.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::softmax, hwy_tag> = true;

inline void softmax(hwy_tag, View<float, 2> x, float scale = 1.0f, SoftmaxMask mask = {}) {
  detail::check_softmax(x);
  const std::int64_t S = x.shape(1);
  for (std::int64_t r = 0; r < x.shape(0); ++r) {
    float* xr = x.data() + r * x.stride(0);
    const std::int64_t n = detail::softmax_row_length(r, S, mask);
    std::fill(xr + n, xr + S, 0.0f);
    HWY_NAMESPACE::SoftmaxRow(xr, n, scale);
  }
}

}  // namespace dsvl::kernels
