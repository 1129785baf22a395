// LayerNorm at the vision encoders' shapes: SigLIP-L/16 at 384 (576 tokens x 1024, VL-1.3B/7B),
// SigLIP-SO400M/14 (729 tokens x 1152, VL2) and SAM ViT-B (64x64 = 4096 tokens x 768, VL-7B);
// LayerNorm2d on SAM's neck output (256 channels x 64 x 64). GB/s counts reading x and writing y
// once; GFLOP/s counts 8 operations per element (two sums, centring twice, square, scale, w, b).
#include <memory>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

template <class Tag, class W>
void add_layer_norm(const char* impl, const char* dtype, std::int64_t T, std::int64_t D, const char* what, bool summary) {
  bench::Case c;
  c.op = "layer_norm";
  c.impl = impl;
  c.dtype = dtype;
  c.shape = std::to_string(T) + "x" + std::to_string(D) + " (" + what + ")";
  c.flops = 8.0 * T * D;
  c.bytes = 8.0 * T * D + 2.0 * sizeof(W) * D;
  c.bound = bench::Bound::memory;
  c.summary = summary;
  if (std::string(impl) != "scalar") c.peers = {"scalar"};
  c.setup = [T, D](ThreadPool&) {
    auto x = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({T, D}));
    auto y = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({T, D}));
    auto w = std::make_shared<Tensor<W, 1>>(Tensor<W, 1>({D}));
    auto b = std::make_shared<Tensor<W, 1>>(Tensor<W, 1>({D}));
    for (std::int64_t i = 0; i < x->size(); ++i) x->data()[i] = 0.001f * static_cast<float>(i % 997);
    for (std::int64_t i = 0; i < D; ++i) {
      w->data()[i] = from_f32<W>(1.0f);
      b->data()[i] = from_f32<W>(0.01f);
    }
    return std::function<void()>([x, y, w, b] {
      kernels::layer_norm(Tag{}, std::as_const(*x).view(), std::as_const(*w).view(), std::as_const(*b).view(), 1e-6f,
                          y->view());
    });
  };
  bench::registry().push_back(std::move(c));
}

template <class Tag>
void add_layer_norm2d(const char* impl) {
  constexpr std::int64_t C = 256, H = 64, W = 64;
  bench::Case c;
  c.op = "layer_norm2d";
  c.impl = impl;
  c.dtype = "f32";
  c.shape = "256x64x64 (SAM neck)";
  c.flops = 8.0 * C * H * W;
  c.bytes = 8.0 * C * H * W + 8.0 * C;
  c.bound = bench::Bound::memory;
  if (std::string(impl) != "scalar") c.peers = {"scalar"};
  c.setup = [](ThreadPool&) {
    auto x = std::make_shared<Tensor<float, 3>>(Tensor<float, 3>({C, H, W}));
    auto y = std::make_shared<Tensor<float, 3>>(Tensor<float, 3>({C, H, W}));
    auto w = std::make_shared<Tensor<float, 1>>(Tensor<float, 1>({C}));
    auto b = std::make_shared<Tensor<float, 1>>(Tensor<float, 1>({C}));
    for (std::int64_t i = 0; i < x->size(); ++i) x->data()[i] = 0.001f * static_cast<float>(i % 997);
    for (std::int64_t i = 0; i < C; ++i) w->data()[i] = 1.0f;
    return std::function<void()>([x, y, w, b] {
      kernels::layer_norm2d(Tag{}, std::as_const(*x).view(), std::as_const(*w).view(), std::as_const(*b).view(), 1e-6f,
                            y->view());
    });
  };
  bench::registry().push_back(std::move(c));
}

template <class Tag>
void add_cases(const char* impl) {
  add_layer_norm<Tag, float>(impl, "f32", 576, 1024, "SigLIP-L", true);
  add_layer_norm<Tag, bf16>(impl, "bf16", 576, 1024, "SigLIP-L", false);
  add_layer_norm<Tag, float>(impl, "f32", 729, 1152, "SigLIP-SO400M", false);
  add_layer_norm<Tag, float>(impl, "f32", 4096, 768, "SAM ViT-B", false);
  add_layer_norm2d<Tag>(impl);
}

DSVL_BENCH_REGISTER(add_cases<scalar_tag>("scalar"); add_cases<xsimd_tag<>>("xsimd"); add_cases<hwy_tag>("hwy"));
}  // namespace
