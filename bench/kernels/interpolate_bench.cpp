// interpolate at the vision shapes (C x H x W -> Ho x Wo). Bound by memory: GB/s counts reading x
// and writing y once; GFLOP/s counts the direct formula (2 per tap pair).
#include <memory>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;
using kernels::InterpMode;

struct Shape {
  std::int64_t C, H, W, Ho, Wo;
  kernels::InterpParams p;
  const char* what;
};
const Shape kShapes[] = {
    {256, 64, 64, 96, 96, {InterpMode::bilinear, false, false}, "bilinear, SAM neck 64 -> 96 (VL-7B)"},
    {3, 1024, 1024, 384, 384, {InterpMode::bilinear, false, true},
     "antialiased bilinear, 1024 image -> SigLIP 384 (VL-7B low-res branch)"},
    {3, 384, 384, 512, 512, {InterpMode::bicubic, false, false}, "bicubic upscaling of a 384 tile"},
};

template <class Tag>
void add_cases(const char* impl) {
  for (const Shape& s : kShapes) {
    const auto th = kernels::detail::interp_axis(s.H, s.Ho, s.p).taps, tw = kernels::detail::interp_axis(s.W, s.Wo, s.p).taps;
    bench::Case c;
    c.op = "interpolate";
    c.impl = impl;
    c.dtype = "f32";
    c.shape = std::to_string(s.C) + "x" + std::to_string(s.H) + "x" + std::to_string(s.W) + " -> " +
              std::to_string(s.Ho) + "x" + std::to_string(s.Wo) + " (" + s.what + ")";
    c.flops = 2.0 * s.C * s.Ho * s.Wo * th * tw;
    c.bytes = 4.0 * s.C * (s.H * s.W + s.Ho * s.Wo);
    c.bound = bench::Bound::memory;
    c.summary = &s == &kShapes[0] && std::string(impl) == "xsimd";
    if (std::string(impl) != "scalar") c.peers = {"scalar"};
    c.setup = [s](ThreadPool&) {
      auto x = std::make_shared<Tensor<float, 3>>(Tensor<float, 3>({s.C, s.H, s.W}));
      auto y = std::make_shared<Tensor<float, 3>>(Tensor<float, 3>({s.C, s.Ho, s.Wo}));
      for (std::int64_t i = 0; i < x->size(); ++i) x->data()[i] = 0.001f * static_cast<float>(i % 997);
      return std::function<void()>([x, y, p = s.p] { kernels::interpolate(Tag{}, std::as_const(*x).view(), p, y->view()); });
    };
    bench::registry().push_back(std::move(c));
  }
}

DSVL_BENCH_REGISTER(add_cases<scalar_tag>("scalar"); add_cases<xsimd_tag<>>("xsimd"); add_cases<hwy_tag>("hwy"));
}  // namespace
