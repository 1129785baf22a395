// conv2d at the vision encoders' shapes (C x H x W -> O, kernel, stride, padding), f32 and bf16
// weights; GFLOP/s counts 2·O·Ho·Wo·C·kh·kw. The scalar reference runs only a small crop.
#include <map>
#include <memory>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

struct Shape {
  std::int64_t C, H, W, O, k, stride, padding;
  const char* what;
};
const Shape kShapes[] = {
    {3, 384, 384, 1024, 16, 16, 0, "SigLIP-L/16 patch embed (VL-1.3B, VL-7B)"},
    {3, 1024, 1024, 768, 16, 16, 0, "SAM-B patch embed (VL-7B)"},
    {768, 64, 64, 256, 1, 1, 0, "SAM neck 1x1 (VL-7B)"},
    {256, 64, 64, 256, 3, 1, 1, "SAM neck 3x3 (VL-7B)"},
    {256, 96, 96, 512, 3, 2, 1, "SAM downsample 1 (VL-7B)"},
    {512, 48, 48, 1024, 3, 2, 1, "SAM downsample 2 (VL-7B)"},
};
const Shape kScalarShape = {3, 96, 96, 1024, 16, 16, 0, "SigLIP-L/16 patch embed, 96x96 crop"};

std::int64_t out_size(std::int64_t n, const Shape& s) { return (n + 2 * s.padding - s.k) / s.stride + 1; }

// Operands shared by every case of one shape (the driver builds all cases before timing any).
struct Operands {
  Tensor<float, 3> x, y;
  Tensor<float, 4> w;
  Tensor<bf16, 4> w_bf16;
};
std::shared_ptr<Operands> operands(const Shape& s) {
  static std::map<const Shape*, std::shared_ptr<Operands>> cache;
  auto& o = cache[&s];
  if (!o) {
    o = std::make_shared<Operands>(Operands{Tensor<float, 3>({s.C, s.H, s.W}),
                                            Tensor<float, 3>({s.O, out_size(s.H, s), out_size(s.W, s)}),
                                            Tensor<float, 4>({s.O, s.C, s.k, s.k}), Tensor<bf16, 4>({s.O, s.C, s.k, s.k})});
    for (std::int64_t i = 0; i < o->x.size(); ++i) o->x.data()[i] = 0.001f * static_cast<float>(i % 997) - 0.5f;
    for (std::int64_t i = 0; i < o->w.size(); ++i) {
      o->w_bf16.data()[i] = bf16::from_float(0.002f * static_cast<float>(i % 1009) - 1.0f);
      o->w.data()[i] = o->w_bf16.data()[i].to_float();
    }
  }
  return o;
}

template <class Tag, class W>
void add_case(const Shape& s, const char* impl, bool summary) {
  const std::int64_t Ho = out_size(s.H, s), Wo = out_size(s.W, s);
  bench::Case c;
  c.op = "conv2d";
  c.impl = impl;
  c.dtype = std::is_same_v<W, bf16> ? "bf16" : "f32";
  c.shape = std::to_string(s.C) + "x" + std::to_string(s.H) + "x" + std::to_string(s.W) + " -> " +
            std::to_string(s.O) + " k" + std::to_string(s.k) + " s" + std::to_string(s.stride) + " p" +
            std::to_string(s.padding) + " (" + s.what + ")";
  c.flops = 2.0 * s.O * Ho * Wo * s.C * s.k * s.k;
  c.bytes = 4.0 * s.C * s.H * s.W + static_cast<double>(sizeof(W)) * s.O * s.C * s.k * s.k + 4.0 * s.O * Ho * Wo;
  c.bound = bench::Bound::compute;
  c.threaded = true;
  c.summary = summary;
  if (std::string(impl) != "scalar" && &s == &kScalarShape) c.peers = {"scalar"};
  c.setup = [&s](ThreadPool& pool) {
    auto o = operands(s);
    return std::function<void()>([o, &pool, p = kernels::Conv2dParams{s.stride, s.padding}] {
      const Operands& in = *o;
      if constexpr (std::is_same_v<W, bf16>)
        kernels::conv2d(Tag{}, in.x.view(), in.w_bf16.view(), View<const float, 1>{}, p, o->y.view(), pool);
      else
        kernels::conv2d(Tag{}, in.x.view(), in.w.view(), View<const float, 1>{}, p, o->y.view(), pool);
    });
  };
  bench::registry().push_back(std::move(c));
}

template <class Tag>
void add_cases(const char* impl) {
  for (const Shape& s : kShapes) {
    add_case<Tag, float>(s, impl, &s == &kShapes[0] && std::string(impl) == "xsimd");
    add_case<Tag, bf16>(s, impl, false);
  }
}

void add_all() {
  add_case<scalar_tag, float>(kScalarShape, "scalar", false);
  add_case<xsimd_tag<>, float>(kScalarShape, "xsimd", false);
  add_case<hwy_tag, float>(kScalarShape, "hwy", false);
  add_cases<xsimd_tag<>>("xsimd");
  add_cases<hwy_tag>("hwy");
}

DSVL_BENCH_REGISTER(add_all());
}  // namespace
