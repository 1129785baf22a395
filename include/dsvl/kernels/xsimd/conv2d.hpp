#pragma once
#include "dsvl/kernels/conv2d.hpp"
#include "dsvl/kernels/xsimd/gemm.hpp"

namespace dsvl::kernels {

template <class Arch>
inline constexpr bool native_v<op::conv2d, xsimd_tag<Arch>> = true;

template <class Arch, class W>
void conv2d(xsimd_tag<Arch>, View<const float, 3> x, View<const W, 4> w, View<const float, 1> bias, Conv2dParams p,
            View<float, 3> y, ThreadPool& pool = ThreadPool::global()) {
  detail::check_conv2d(x, w, bias, p, y);
  detail::conv2d_im2col_gemm(x, w, bias, p, y, pool, [](auto a, auto wm, auto b, auto c, ThreadPool& tp) {
    gemm(xsimd_tag<Arch>{}, a, wm, b, c, tp);
  });
}

}  // namespace dsvl::kernels
