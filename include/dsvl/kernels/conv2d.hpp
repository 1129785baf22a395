#pragma once
// 2-D convolution of one image (torch.nn.functional.conv2d(x[None], w, bias, stride, padding)[0]
// with groups 1 and dilation 1):
//   y[o, oh, ow] = bias[o] + sum_{c, i, j} w[o, c, i, j] * x[c, oh*s - p + i, ow*s - p + j]
// where x reads as 0 outside the image (zero padding p on all four sides).
// x: (C, H, W) f32, any strides with a contiguous last dimension.
// w: (O, C, kh, kw) f32 or bf16, PyTorch's layout with the last three dimensions packed (any
//    stride between output channels), kh, kw >= 1, H + 2p >= kh and W + 2p >= kw (errors otherwise).
// bias: (O) f32, or an empty View{} for none.
// y: (O, Ho, Wo) f32 with Ho = (H + 2p - kh)/s + 1 and Wo = (W + 2p - kw)/s + 1 (floor division:
//    trailing rows and columns that do not fill a window are ignored, e.g. the last 6 pixels of a
//    384 image with kernel = stride = 14); any strides with a contiguous last dimension; y must
//    not overlap x or w. C, O may be 0. Products are accumulated in f32.
// The SIMD policies write the patches of a band of output pixels (im2col, patch-major) and run
// kernels::gemm on them; they differ from the reference only in the order of the f32 additions.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"

namespace dsvl::kernels {

struct Conv2dParams {
  std::int64_t stride = 1, padding = 0;
};

namespace detail {
template <class W>
void check_conv2d(View<const float, 3> x, View<const W, 4> w, View<const float, 1> bias, Conv2dParams p,
                  View<float, 3> y) {
  constexpr const char* where = "kernels::conv2d";
  check_rows_view(where, "x", x);
  check_rows_view(where, "y", y);
  const std::int64_t C = w.shape(1), kh = w.shape(2), kw = w.shape(3);
  DSVL_CHECK((kw <= 1 || w.stride(3) == 1) && (kh <= 1 || w.stride(2) == kw) && (C <= 1 || w.stride(1) == kh * kw),
             where, "the last three dimensions of w must be packed (C, kh, kw)");
  DSVL_CHECK(p.stride >= 1 && p.padding >= 0, where, "stride ", p.stride, " must be >= 1 and padding ", p.padding,
             " >= 0");
  DSVL_CHECK(kh >= 1 && kw >= 1, where, "kernel (", kh, ", ", kw, ") must be at least 1x1");
  DSVL_CHECK(x.shape(0) == C, where, "x has ", x.shape(0), " channels, w expects ", C);
  const std::int64_t H = x.shape(1) + 2 * p.padding, Wd = x.shape(2) + 2 * p.padding;
  DSVL_CHECK(H >= kh && Wd >= kw, where, "padded input (", H, ", ", Wd, ") is smaller than the kernel (", kh, ", ",
             kw, ")");
  const std::int64_t Ho = (H - kh) / p.stride + 1, Wo = (Wd - kw) / p.stride + 1;
  DSVL_CHECK(y.shape(0) == w.shape(0) && y.shape(1) == Ho && y.shape(2) == Wo, where, "y is (", y.shape(0), ", ",
             y.shape(1), ", ", y.shape(2), "), expected (O, Ho, Wo) = (", w.shape(0), ", ", Ho, ", ", Wo, ")");
  DSVL_CHECK(bias.empty() || (bias.shape(0) == w.shape(0) && bias.inner_contiguous()), where, "bias has ",
             bias.shape(0), " elements, expected O = ", w.shape(0));
}

// patches[(oh - oh0) * Wo + ow, (c * kh + i) * kw + j] = x[c, oh*s - p + i, ow*s - p + j] (0 outside)
// for the output rows [oh0, oh1): one row of the GEMM's a per output pixel.
inline void conv2d_im2col(View<const float, 3> x, std::int64_t kh, std::int64_t kw, Conv2dParams p, std::int64_t Wo,
                          std::int64_t oh0, std::int64_t oh1, float* patches) {
  const std::int64_t C = x.shape(0), H = x.shape(1), W = x.shape(2), s = p.stride, pad = p.padding;
  const std::int64_t K = C * kh * kw;
  for (std::int64_t oh = oh0; oh < oh1; ++oh)
    for (std::int64_t ow = 0; ow < Wo; ++ow) {
      float* dst = patches + ((oh - oh0) * Wo + ow) * K;
      const std::int64_t iw0 = ow * s - pad;
      const bool inside_w = iw0 >= 0 && iw0 + kw <= W;
      for (std::int64_t c = 0; c < C; ++c)
        for (std::int64_t i = 0; i < kh; ++i, dst += kw) {
          const std::int64_t ih = oh * s - pad + i;
          if (ih < 0 || ih >= H) {
            std::fill(dst, dst + kw, 0.0f);
            continue;
          }
          const float* src = x.data() + c * x.stride(0) + ih * x.stride(1);
          if (inside_w) {
            std::copy(src + iw0, src + iw0 + kw, dst);
          } else {
            for (std::int64_t j = 0; j < kw; ++j) dst[j] = iw0 + j >= 0 && iw0 + j < W ? src[iw0 + j] : 0.0f;
          }
        }
    }
}

// The SIMD policies' conv2d: bands of output rows, each im2col'd (a: (pixels, K)), multiplied by
// the weight viewed as (O, K) with `gemm(a, w, bias, c, pool)` into c: (pixels, O), and
// transposed into y. A band's patches take about 4 MiB.
template <class W, class Gemm>
void conv2d_im2col_gemm(View<const float, 3> x, View<const W, 4> w, View<const float, 1> bias, Conv2dParams p,
                        View<float, 3> y, ThreadPool& pool, Gemm&& gemm) {
  const std::int64_t O = w.shape(0), kh = w.shape(2), kw = w.shape(3), K = w.shape(1) * kh * kw;
  const std::int64_t Ho = y.shape(1), Wo = y.shape(2);
  if (O == 0 || Ho == 0 || Wo == 0) return;
  const View<const W, 2> wm(w.data(), {O, K}, {w.stride(0), 1});
  const std::int64_t band = std::clamp<std::int64_t>((std::int64_t{1} << 20) / std::max<std::int64_t>(Wo * K, 1), 1, Ho);
  std::vector<float> patches(static_cast<std::size_t>(band * Wo * K)), c(static_cast<std::size_t>(band * Wo * O));
  for (std::int64_t oh0 = 0; oh0 < Ho; oh0 += band) {
    const std::int64_t oh1 = std::min(Ho, oh0 + band), P = (oh1 - oh0) * Wo;
    pool.parallel_for(oh0, oh1, [&](std::int64_t b, std::int64_t e) {
      conv2d_im2col(x, kh, kw, p, Wo, b, e, patches.data() + (b - oh0) * Wo * K);
    });
    gemm(View<const float, 2>(patches.data(), {P, K}), wm, bias, View<float, 2>(c.data(), {P, O}), pool);
    // y[o, oh0 + q / Wo, q % Wo] = c[q, o], in 32 x 32 tiles.
    constexpr std::int64_t kTile = 32;
    pool.parallel_for(0, (O + kTile - 1) / kTile, [&](std::int64_t tb, std::int64_t te) {
      for (std::int64_t o0 = tb * kTile; o0 < std::min(O, te * kTile); o0 += kTile)
        for (std::int64_t q0 = 0; q0 < P; q0 += kTile)
          for (std::int64_t o = o0; o < std::min(O, o0 + kTile); ++o) {
            float* yo = y.data() + o * y.stride(0);
            for (std::int64_t q = q0; q < std::min(P, q0 + kTile); ++q)
              yo[(oh0 + q / Wo) * y.stride(1) + q % Wo] = c[static_cast<std::size_t>(q * O + o)];
          }
    });
  }
}
}  // namespace detail

template <class W>
void conv2d(scalar_tag, View<const float, 3> x, View<const W, 4> w, View<const float, 1> bias, Conv2dParams p,
            View<float, 3> y, [[maybe_unused]] ThreadPool& pool = ThreadPool::global()) {
  detail::check_conv2d(x, w, bias, p, y);
  const std::int64_t O = w.shape(0), C = w.shape(1), kh = w.shape(2), kw = w.shape(3);
  const std::int64_t H = x.shape(1), Wd = x.shape(2), s = p.stride, pad = p.padding;
  for (std::int64_t o = 0; o < O; ++o)
    for (std::int64_t oh = 0; oh < y.shape(1); ++oh)
      for (std::int64_t ow = 0; ow < y.shape(2); ++ow) {
        float acc = 0.0f;
        for (std::int64_t c = 0; c < C; ++c)
          for (std::int64_t i = 0; i < kh; ++i) {
            const std::int64_t ih = oh * s - pad + i;
            if (ih < 0 || ih >= H) continue;
            for (std::int64_t j = 0; j < kw; ++j) {
              const std::int64_t iw = ow * s - pad + j;
              if (iw >= 0 && iw < Wd) acc += to_f32(w(o, c, i, j)) * x(c, ih, iw);
            }
          }
        y(o, oh, ow) = bias.empty() ? acc : acc + bias.data()[o];
      }
}

DSVL_DEVICE_KERNEL_REQUIRED(conv2d)

}  // namespace dsvl::kernels
