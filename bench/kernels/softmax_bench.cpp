// Softmax over attention rows, in place: SAM ViT-B window attention (25 windows x 12 heads x 196
// queries = 58800 rows of 196 keys), SAM global attention (one head, 4096 x 4096), a decode step
// (16 heads, one query, 640 cached keys; VL-1.3B) and a causal 576-token prefill. GB/s counts
// reading and writing each entry once; GFLOP/s counts 5 operations per entry (scale, max, exp,
// sum, normalise).
#include <memory>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

template <class Tag>
void add_cases(const char* impl) {
  struct Shape {
    std::int64_t R, S;
    kernels::SoftmaxMask mask;
    const char* what;
  };
  for (const Shape& s : {Shape{58800, 196, {}, "SAM window attention"}, Shape{4096, 4096, {}, "SAM global attention"},
                         Shape{16, 640, {}, "decode, 16 heads"}, Shape{576, 576, {0, -1}, "causal prefill"}}) {
    bench::Case c;
    c.op = "softmax";
    c.impl = impl;
    c.dtype = "f32";
    c.shape = std::to_string(s.R) + "x" + std::to_string(s.S) + " (" + s.what + ")";
    c.flops = 5.0 * s.R * s.S;
    c.bytes = 8.0 * s.R * s.S;
    c.bound = bench::Bound::memory;
    c.summary = s.R == 576;
    if (std::string(impl) != "scalar") c.peers = {"scalar"};
    c.setup = [s](ThreadPool&) {
      auto x = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({s.R, s.S}));
      for (std::int64_t i = 0; i < x->size(); ++i) x->data()[i] = 0.01f * static_cast<float>(i % 997);
      return std::function<void()>([x, s] { kernels::softmax(Tag{}, x->view(), 0.125f, s.mask); });
    };
    bench::registry().push_back(std::move(c));
  }
}

DSVL_BENCH_REGISTER(add_cases<scalar_tag>("scalar"); add_cases<xsimd_tag<>>("xsimd"); add_cases<hwy_tag>("hwy"));
}  // namespace
