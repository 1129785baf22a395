#pragma once
// LayerNorm over the last dimension (torch.nn.LayerNorm, biased variance):
//   u = mean_i x[t, i],  s = mean_i (x[t, i] - u)^2,  y[t, i] = w[i] * (x[t, i] - u) / sqrt(s + eps) + b[i]
// x, y: (T, D) f32, last dimension contiguous, any row stride, y may alias x.
// weight: (D), bias: (D) or empty (no bias); both f32 or bf16. D == 0 or T == 0 does nothing.
// The mean is taken first and the variance of x - u second (two passes), as PyTorch does.
//
// LayerNorm2d over the channels of a channels-first image (SAM's LayerNorm2d, ViTDet neck):
//   u = mean_c x[c, p],  s = mean_c (x[c, p] - u)^2,  y[c, p] = w[c] * (x[c, p] - u) / sqrt(s + eps) + b[c]
// x, y: (C, H, W) f32 with each channel's H*W plane contiguous (stride(2) == 1, stride(1) == W)
// and any channel stride; y may alias x. weight, bias: (C), f32 or bf16 (bias required).

#include <cmath>
#include <cstdint>

#include "dsvl/core/dtype.hpp"
#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

namespace detail {
template <class W>
void check_layer_norm(View<const float, 2> x, View<const W, 1> w, View<const W, 1> b, View<float, 2> y) {
  constexpr const char* where = "kernels::layer_norm";
  check_rows_view(where, "x", x);
  check_rows_view(where, "y", y);
  check_same_shape(where, "x", x, "y", y);
  DSVL_CHECK(w.shape(0) == x.shape(1) && w.inner_contiguous(), where, "weight has ", w.shape(0),
             " elements, rows have ", x.shape(1));
  DSVL_CHECK((b.shape(0) == x.shape(1) || b.shape(0) == 0) && b.inner_contiguous(), where, "bias has ",
             b.shape(0), " elements, rows have ", x.shape(1), " (or pass an empty bias)");
}

template <class W>
void check_layer_norm2d(View<const float, 3> x, View<const W, 1> w, View<const W, 1> b, View<float, 3> y) {
  constexpr const char* where = "kernels::layer_norm2d";
  check_same_shape(where, "x", x, "y", y);
  const auto plane_contiguous = [](const auto& v) {
    return v.inner_contiguous() && (v.shape(1) <= 1 || v.stride(1) == v.shape(2));
  };
  DSVL_CHECK(plane_contiguous(x) && plane_contiguous(y), where, "each channel's H*W plane must be contiguous");
  DSVL_CHECK(w.shape(0) == x.shape(0) && w.inner_contiguous(), where, "weight has ", w.shape(0),
             " elements, x has ", x.shape(0), " channels");
  DSVL_CHECK(b.shape(0) == x.shape(0) && b.inner_contiguous(), where, "bias has ", b.shape(0),
             " elements, x has ", x.shape(0), " channels");
}
}  // namespace detail

template <class W>
void layer_norm(scalar_tag, View<const float, 2> x, View<const W, 1> weight, View<const W, 1> bias, float eps,
                View<float, 2> y) {
  detail::check_layer_norm(x, weight, bias, y);
  const std::int64_t D = x.shape(1);
  if (D == 0) return;
  const W* w = weight.data();
  const W* b = bias.shape(0) ? bias.data() : nullptr;
  for (std::int64_t t = 0; t < x.shape(0); ++t) {
    const float* xr = x.data() + t * x.stride(0);
    float* yr = y.data() + t * y.stride(0);
    float sum = 0.0f;
    for (std::int64_t i = 0; i < D; ++i) sum += xr[i];
    const float mean = sum / static_cast<float>(D);
    float ss = 0.0f;
    for (std::int64_t i = 0; i < D; ++i) ss += (xr[i] - mean) * (xr[i] - mean);
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(D) + eps);
    for (std::int64_t i = 0; i < D; ++i) {
      const float v = (xr[i] - mean) * r * to_f32(w[i]);
      yr[i] = b ? v + to_f32(b[i]) : v;
    }
  }
}

template <class W>
void layer_norm2d(scalar_tag, View<const float, 3> x, View<const W, 1> weight, View<const W, 1> bias, float eps,
                  View<float, 3> y) {
  detail::check_layer_norm2d(x, weight, bias, y);
  const std::int64_t C = x.shape(0), P = x.shape(1) * x.shape(2);
  if (C == 0) return;
  const std::int64_t xs = x.stride(0), ys = y.stride(0);
  for (std::int64_t p = 0; p < P; ++p) {
    const float* xp = x.data() + p;
    float sum = 0.0f;
    for (std::int64_t c = 0; c < C; ++c) sum += xp[c * xs];
    const float mean = sum / static_cast<float>(C);
    float ss = 0.0f;
    for (std::int64_t c = 0; c < C; ++c) ss += (xp[c * xs] - mean) * (xp[c * xs] - mean);
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(C) + eps);
    for (std::int64_t c = 0; c < C; ++c)
      y.data()[c * ys + p] = (xp[c * xs] - mean) * r * to_f32(weight.data()[c]) + to_f32(bias.data()[c]);
  }
}

DSVL_DEVICE_KERNEL_REQUIRED(layer_norm)
DSVL_DEVICE_KERNEL_REQUIRED(layer_norm2d)

}  // namespace dsvl::kernels
