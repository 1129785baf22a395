// topk for MoE routing over a 576-token prefill: E = 64 experts (VL2-Tiny, VL2-Small) and 72
// (VL2-Base), k = 6. GB/s counts reading the scores once; GFLOP/s counts one comparison per
// score and pick (T·E·k).
#include <memory>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

template <class Tag>
void add_cases(const char* impl) {
  for (auto [E, what] : {std::pair{64, "VL2-Tiny/Small"}, std::pair{72, "VL2-Base"}}) {
    constexpr std::int64_t T = 576, k = 6;
    bench::Case c;
    c.op = "topk";
    c.impl = impl;
    c.dtype = "f32";
    c.shape = "576x" + std::to_string(E) + " k6 (" + what + " routing)";
    c.flops = 1.0 * T * E * k;
    c.bytes = 4.0 * T * E + 8.0 * T * k;
    c.bound = bench::Bound::memory;
    c.summary = E == 64 && std::string(impl) == "xsimd";
    if (std::string(impl) != "scalar") c.peers = {"scalar"};
    c.setup = [E = E](ThreadPool&) {
      auto x = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({T, E}));
      auto v = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({T, k}));
      auto i = std::make_shared<Tensor<std::int32_t, 2>>(Tensor<std::int32_t, 2>({T, k}));
      for (std::int64_t n = 0; n < x->size(); ++n) x->data()[n] = static_cast<float>((n * 7919) % 1009) / 1009.0f;
      return std::function<void()>([x, v, i] { kernels::topk(Tag{}, std::as_const(*x).view(), k, v->view(), i->view()); });
    };
    bench::registry().push_back(std::move(c));
  }
}

DSVL_BENCH_REGISTER(add_cases<scalar_tag>("scalar"); add_cases<xsimd_tag<>>("xsimd"); add_cases<hwy_tag>("hwy"));
}  // namespace
