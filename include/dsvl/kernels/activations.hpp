#pragma once
// Element-wise activations on (rows, cols) f32 views: last dimension contiguous, any row stride,
// the output may alias an input of the same shape. Each matches the PyTorch formula in f32:
//   gelu_erf   nn.GELU() / F.gelu(x):                    0.5 x (1 + erf(x / sqrt(2)))
//   gelu_tanh  F.gelu(x, approximate="tanh"):            0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
//   silu       F.silu(x):                                x / (1 + exp(-x))
//   quick_gelu CLIP's x * sigmoid(1.702 x) (OpenAI CLIP, DeepSeek-OCR's CLIP-L): x / (1 + exp(-1.702 x))
//   swiglu     F.silu(gate) * up (LLaMA / DeepSeek MLP): out = silu(gate) * up
// The xsimd and Highway versions use vector exp, erf and tanh within 2 ulp of exact (measured in
// tests/kernels/activations_test.cpp); non-finite inputs may give different results per policy.

#include <cmath>
#include <cstdint>

#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

namespace detail {
inline constexpr float kGeluSqrt1_2 = 0.707106781186547524f;
inline constexpr float kGeluTanhBeta = 0.797884560802865356f;  // sqrt(2 / pi)
inline constexpr float kGeluTanhKappa = 0.044715f;

inline void check_activation(const char* where, View<const float, 2> x, View<float, 2> y) {
  check_rows_view(where, "x", x);
  check_rows_view(where, "y", y);
  check_same_shape(where, "x", x, "y", y);
}

inline void check_swiglu(View<const float, 2> gate, View<const float, 2> up, View<float, 2> out) {
  constexpr const char* where = "kernels::swiglu";
  check_rows_view(where, "gate", gate);
  check_rows_view(where, "up", up);
  check_rows_view(where, "out", out);
  check_same_shape(where, "gate", gate, "up", up);
  check_same_shape(where, "gate", gate, "out", out);
}

inline float gelu_erf_scalar(float x) { return 0.5f * x * (1.0f + std::erf(x * kGeluSqrt1_2)); }
inline float gelu_tanh_scalar(float x) {
  return 0.5f * x * (1.0f + std::tanh(kGeluTanhBeta * (x + kGeluTanhKappa * (x * x * x))));
}
inline float silu_scalar(float x) { return x / (1.0f + std::exp(-x)); }
inline constexpr float kQuickGeluAlpha = 1.702f;
inline float quick_gelu_scalar(float x) { return x / (1.0f + std::exp(-kQuickGeluAlpha * x)); }

// y[r, :] = f(x[r, :]) row by row.
template <class F>
void activation_map_rows(View<const float, 2> x, View<float, 2> y, F f) {
  for (std::int64_t r = 0; r < x.shape(0); ++r) {
    const float* xr = x.data() + r * x.stride(0);
    float* yr = y.data() + r * y.stride(0);
    for (std::int64_t i = 0; i < x.shape(1); ++i) yr[i] = f(xr[i]);
  }
}
}  // namespace detail

inline void gelu_erf(scalar_tag, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::gelu_erf", x, y);
  detail::activation_map_rows(x, y, [](float v) { return detail::gelu_erf_scalar(v); });
}

inline void gelu_tanh(scalar_tag, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::gelu_tanh", x, y);
  detail::activation_map_rows(x, y, [](float v) { return detail::gelu_tanh_scalar(v); });
}

inline void silu(scalar_tag, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::silu", x, y);
  detail::activation_map_rows(x, y, [](float v) { return detail::silu_scalar(v); });
}

inline void quick_gelu(scalar_tag, View<const float, 2> x, View<float, 2> y) {
  detail::check_activation("kernels::quick_gelu", x, y);
  detail::activation_map_rows(x, y, [](float v) { return detail::quick_gelu_scalar(v); });
}

inline void swiglu(scalar_tag, View<const float, 2> gate, View<const float, 2> up, View<float, 2> out) {
  detail::check_swiglu(gate, up, out);
  for (std::int64_t r = 0; r < gate.shape(0); ++r) {
    const float* g = gate.data() + r * gate.stride(0);
    const float* u = up.data() + r * up.stride(0);
    float* o = out.data() + r * out.stride(0);
    for (std::int64_t i = 0; i < gate.shape(1); ++i) o[i] = detail::silu_scalar(g[i]) * u[i];
  }
}

DSVL_DEVICE_KERNEL_REQUIRED(gelu_erf)
DSVL_DEVICE_KERNEL_REQUIRED(gelu_tanh)
DSVL_DEVICE_KERNEL_REQUIRED(silu)
DSVL_DEVICE_KERNEL_REQUIRED(quick_gelu)
DSVL_DEVICE_KERNEL_REQUIRED(swiglu)

}  // namespace dsvl::kernels
