#pragma once
// SwiGluMlp<P>: the gated MLP of LLaMA and DeepSeek (LlamaMLP, DeepseekV2MLP), no biases:
//   y = down_proj(silu(gate_proj(x)) * up_proj(x)),  gate_proj, up_proj: (I, D), down_proj: (D, I).
// The dense FFN of a decoder layer, each routed expert and the shared experts of a DeepSeekMoE
// block (spec.md 5.2, 5.5) are this block with different widths I.

#include <cstdint>
#include <utility>

#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/nn/linear.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"

namespace dsvl::language {

template <KernelPolicy P>
struct SwiGluMlp {
  using W = typename P::weight_type;

  SwiGluMlp(std::int64_t hidden, std::int64_t intermediate) : hidden_size(hidden), intermediate_size(intermediate) {}

  template <class V>
  void visit(V& v) {
    v.weight("gate_proj.weight", gate_proj, {intermediate_size, hidden_size});  // (out, in)
    v.weight("up_proj.weight", up_proj, {intermediate_size, hidden_size});
    v.weight("down_proj.weight", down_proj, {hidden_size, intermediate_size});
  }

  // x: (T, D) -> y: (T, D); y must not overlap x.
  void forward(View<const float, 2> x, View<float, 2> y, ThreadPool& pool) const {
    const typename P::kernel_tag tag{};
    const std::int64_t T = x.shape(0);
    Tensor<float, 2> gate({T, intermediate_size}), up({T, intermediate_size});
    nn::linear(tag, x, gate_proj.view(), gate.view(), pool);  // (T, I)
    nn::linear(tag, x, up_proj.view(), up.view(), pool);
    kernels::swiglu(tag, std::as_const(gate).view(), std::as_const(up).view(), gate.view());
    nn::linear(tag, std::as_const(gate).view(), down_proj.view(), y, pool);  // (T, D)
  }

  std::int64_t hidden_size, intermediate_size;
  nn::Weight<W, 2> gate_proj, up_proj, down_proj;
};

}  // namespace dsvl::language
