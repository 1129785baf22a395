#pragma once
// RMSNorm over the last dimension (transformers LlamaRMSNorm / DeepseekV2RMSNorm):
//   y[t, :] = w * x[t, :] / sqrt(mean_i x[t, i]^2 + eps)
// x, y: (T, D) f32, last dimension contiguous, y may alias x.  w: (D), f32 or bf16.

#include <cmath>

#include "dsvl/core/dtype.hpp"
#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

namespace detail {
template <class W>
void check_rms_norm(View<const float, 2> x, View<const W, 1> w, View<float, 2> y) {
  check_rows_view("kernels::rms_norm", "x", x);
  check_rows_view("kernels::rms_norm", "y", y);
  check_same_shape("kernels::rms_norm", "x", x, "y", y);
  DSVL_CHECK(w.shape(0) == x.shape(1) && w.inner_contiguous(), "kernels::rms_norm",
             "weight has ", w.shape(0), " elements, rows have ", x.shape(1));
}
}  // namespace detail

template <class W>
void rms_norm(scalar_tag, View<const float, 2> x, View<const W, 1> w, float eps, View<float, 2> y) {
  detail::check_rms_norm(x, w, y);
  const std::int64_t D = x.shape(1);
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* xr = x.data() + t * x.stride(0);
    float* yr = y.data() + t * y.stride(0);
    float ss = 0.0f;
    for (std::int64_t i = 0; i < D; ++i) ss += xr[i] * xr[i];
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(D) + eps);
    for (std::int64_t i = 0; i < D; ++i) yr[i] = to_f32(w.data()[i]) * (xr[i] * r);
  }
}

DSVL_DEVICE_KERNEL_REQUIRED(rms_norm)

}  // namespace dsvl::kernels
