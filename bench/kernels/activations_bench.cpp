// Activations at the MLP shapes: exact GELU on SigLIP-L's hidden layer (576 tokens x 4096,
// VL-1.3B/7B), SiLU and SwiGLU on VL-1.3B's decoder MLP (intermediate 5632) for a 576-token prefill
// and one decode token. GB/s counts reading the inputs and writing the output once; GFLOP/s counts
// the arithmetic of the formula with each transcendental as one operation.
#include <memory>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

template <class Tag>
void add_cases(const char* impl) {
  enum class Act { gelu_erf, silu, swiglu };
  struct Shape {
    Act act;
    std::int64_t T, D;
    const char* what;
    bool summary;
  };
  for (const Shape& s : {Shape{Act::gelu_erf, 576, 4096, "SigLIP-L MLP", true},
                         Shape{Act::silu, 576, 5632, "VL-1.3B MLP prefill", true},
                         Shape{Act::swiglu, 576, 5632, "VL-1.3B MLP prefill", true},
                         Shape{Act::swiglu, 1, 5632, "VL-1.3B MLP decode", false}}) {
    bench::Case c;
    c.op = s.act == Act::gelu_erf ? "gelu_erf" : s.act == Act::silu ? "silu" : "swiglu";
    c.impl = impl;
    c.dtype = "f32";
    c.shape = std::to_string(s.T) + "x" + std::to_string(s.D) + " (" + s.what + ")";
    const double n = static_cast<double>(s.T) * s.D;
    c.flops = (s.act == Act::gelu_erf ? 5.0 : s.act == Act::silu ? 4.0 : 5.0) * n;
    c.bytes = (s.act == Act::swiglu ? 12.0 : 8.0) * n;
    c.bound = bench::Bound::memory;
    c.summary = s.summary;
    if (std::string(impl) != "scalar") c.peers = {"scalar"};
    c.setup = [s](ThreadPool&) {
      auto x = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({s.T, s.D}));
      auto u = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({s.T, s.D}));
      auto y = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({s.T, s.D}));
      for (std::int64_t i = 0; i < x->size(); ++i) {
        x->data()[i] = 0.01f * static_cast<float>(i % 997) - 5.0f;
        u->data()[i] = 0.001f * static_cast<float>(i % 991);
      }
      return std::function<void()>([x, u, y, act = s.act] {
        if (act == Act::gelu_erf) kernels::gelu_erf(Tag{}, std::as_const(*x).view(), y->view());
        else if (act == Act::silu) kernels::silu(Tag{}, std::as_const(*x).view(), y->view());
        else kernels::swiglu(Tag{}, std::as_const(*x).view(), std::as_const(*u).view(), y->view());
      });
    };
    bench::registry().push_back(std::move(c));
  }
}

DSVL_BENCH_REGISTER(add_cases<scalar_tag>("scalar"); add_cases<xsimd_tag<>>("xsimd"); add_cases<hwy_tag>("hwy"));
}  // namespace
