// RMSNorm at the decoder shapes: one decode token and a 576-token prefill, D = 2048 (VL-1.3B,
// VL2-Tiny/Small) and 4096 (VL-7B).
#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

template <class Tag>
void add_cases(const char* impl) {
  for (auto [T, D, what] : {std::tuple{1, 2048, "decode"}, std::tuple{576, 2048, "prefill"},
                            std::tuple{576, 4096, "prefill"}}) {
    bench::Case c;
    c.op = "rms_norm";
    c.impl = impl;
    c.dtype = "f32";
    c.shape = std::to_string(T) + "x" + std::to_string(D) + " (" + what + ")";
    c.flops = 4.0 * T * D;
    c.bytes = 8.0 * T * D + 4.0 * D;
    c.bound = bench::Bound::memory;
    c.summary = (T == 576 && D == 2048);
    c.setup = [T = T, D = D](ThreadPool&) {
      auto x = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({T, D}));
      auto w = std::make_shared<Tensor<float, 1>>(Tensor<float, 1>({D}));
      for (std::int64_t i = 0; i < x->size(); ++i) x->data()[i] = 0.001f * static_cast<float>(i % 997);
      for (std::int64_t i = 0; i < D; ++i) w->data()[i] = 1.0f;
      return std::function<void()>([x, w] {
        kernels::rms_norm(Tag{}, std::as_const(*x).view(), std::as_const(*w).view(), 1e-6f, x->view());
      });
    };
    bench::registry().push_back(std::move(c));
  }
}

DSVL_BENCH_REGISTER(add_cases<scalar_tag>("scalar"); add_cases<xsimd_tag<>>("xsimd"); add_cases<hwy_tag>("hwy"));
}  // namespace
