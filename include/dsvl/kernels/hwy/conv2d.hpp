#pragma once
#include <concepts>

#include "dsvl/kernels/conv2d.hpp"
#include "dsvl/kernels/hwy/gemm.hpp"

namespace dsvl::kernels {

template <>
inline constexpr bool native_v<op::conv2d, hwy_tag> = true;

template <class Tag, class W>
  requires std::derived_from<Tag, hwy_tag>
void conv2d(Tag tag, View<const float, 3> x, View<const W, 4> w, View<const float, 1> bias, Conv2dParams p,
            View<float, 3> y, ThreadPool& pool = ThreadPool::global()) {
  detail::check_conv2d(x, w, bias, p, y);
  detail::conv2d_im2col_gemm(x, w, bias, p, y, pool, [tag](auto a, auto wm, auto b, auto c, ThreadPool& tp) {
    gemm(tag, a, wm, b, c, tp);
  });
}

}  // namespace dsvl::kernels
