#pragma once
// Element-wise arithmetic on (rows, cols) f32 views (torch.add, torch.mul, x * s):
//   add:   out = a + b      mul: out = a * b      scale: out = s * x
// All views have a contiguous last dimension and any row stride. b has the shape of a, or one row
// that is broadcast over the rows of a (a bias, a per-channel scale). out has the shape of a and
// may alias a or b (when b has the same shape).

#include <cstdint>

#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

namespace detail {
inline void check_elementwise_binary(const char* where, View<const float, 2> a, View<const float, 2> b, View<float, 2> out) {
  check_rows_view(where, "a", a);
  check_rows_view(where, "b", b);
  check_rows_view(where, "out", out);
  check_same_shape(where, "a", a, "out", out);
  DSVL_CHECK(b.shape(1) == a.shape(1) && (b.shape(0) == a.shape(0) || b.shape(0) == 1), where, "b is (",
             b.shape(0), ", ", b.shape(1), "), expected (", a.shape(0), ", ", a.shape(1), ") or (1, ", a.shape(1),
             ")");
}

inline void check_scale(View<const float, 2> x, View<float, 2> out) {
  check_rows_view("kernels::scale", "x", x);
  check_rows_view("kernels::scale", "out", out);
  check_same_shape("kernels::scale", "x", x, "out", out);
}

// The row of b that goes with row r of a: b's only row when it is broadcast.
inline const float* elementwise_b_row(View<const float, 2> b, std::int64_t r) {
  return b.data() + (b.shape(0) == 1 ? 0 : r * b.stride(0));
}

template <class F>
void elementwise_zip_rows(View<const float, 2> a, View<const float, 2> b, View<float, 2> out, F f) {
  for (std::int64_t r = 0; r < a.shape(0); ++r) {
    const float* ar = a.data() + r * a.stride(0);
    const float* br = elementwise_b_row(b, r);
    float* o = out.data() + r * out.stride(0);
    for (std::int64_t i = 0; i < a.shape(1); ++i) o[i] = f(ar[i], br[i]);
  }
}
}  // namespace detail

inline void add(scalar_tag, View<const float, 2> a, View<const float, 2> b, View<float, 2> out) {
  detail::check_elementwise_binary("kernels::add", a, b, out);
  detail::elementwise_zip_rows(a, b, out, [](float u, float v) { return u + v; });
}

inline void mul(scalar_tag, View<const float, 2> a, View<const float, 2> b, View<float, 2> out) {
  detail::check_elementwise_binary("kernels::mul", a, b, out);
  detail::elementwise_zip_rows(a, b, out, [](float u, float v) { return u * v; });
}

inline void scale(scalar_tag, View<const float, 2> x, float s, View<float, 2> out) {
  detail::check_scale(x, out);
  for (std::int64_t r = 0; r < x.shape(0); ++r) {
    const float* xr = x.data() + r * x.stride(0);
    float* o = out.data() + r * out.stride(0);
    for (std::int64_t i = 0; i < x.shape(1); ++i) o[i] = s * xr[i];
  }
}

DSVL_DEVICE_KERNEL_REQUIRED(add)
DSVL_DEVICE_KERNEL_REQUIRED(mul)
DSVL_DEVICE_KERNEL_REQUIRED(scale)

}  // namespace dsvl::kernels
