// Element-wise ops on VL-1.3B's residual stream (576 tokens x 2048): the residual add, a bias
// broadcast over the rows, and a scale. GB/s counts reading the inputs and writing the output once.
#include <memory>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

template <class Tag>
void add_cases(const char* impl) {
  constexpr std::int64_t T = 576, D = 2048;
  enum class Op { add, add_bias, scale };
  for (Op op : {Op::add, Op::add_bias, Op::scale}) {
    bench::Case c;
    c.op = op == Op::scale ? "scale" : "add";
    c.impl = impl;
    c.dtype = "f32";
    c.shape = op == Op::add_bias ? "576x2048 + 1x2048 (bias)" : op == Op::add ? "576x2048 (residual)" : "576x2048";
    c.flops = 1.0 * T * D;
    c.bytes = (op == Op::add ? 12.0 : 8.0) * T * D;
    c.bound = bench::Bound::memory;
    c.summary = op != Op::add_bias;
    if (std::string(impl) != "scalar") c.peers = {"scalar"};
    c.setup = [op](ThreadPool&) {
      const std::int64_t Tb = op == Op::add_bias ? 1 : T;
      auto a = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({T, D}));
      auto b = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({Tb, D}));
      auto out = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({T, D}));
      for (std::int64_t i = 0; i < a->size(); ++i) a->data()[i] = 0.001f * static_cast<float>(i % 997);
      for (std::int64_t i = 0; i < b->size(); ++i) b->data()[i] = 0.002f * static_cast<float>(i % 991);
      return std::function<void()>([a, b, out, op] {
        if (op == Op::scale) kernels::scale(Tag{}, std::as_const(*a).view(), 0.5f, out->view());
        else kernels::add(Tag{}, std::as_const(*a).view(), std::as_const(*b).view(), out->view());
      });
    };
    bench::registry().push_back(std::move(c));
  }
}

DSVL_BENCH_REGISTER(add_cases<scalar_tag>("scalar"); add_cases<xsimd_tag<>>("xsimd"); add_cases<hwy_tag>("hwy"));
}  // namespace
