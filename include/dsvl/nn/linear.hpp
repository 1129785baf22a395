#pragma once
// y = x · wᵀ for the rows of x (torch.nn.functional.linear without bias), with the policy's
// kernels: gemv for one row (a decode step), gemm otherwise. w is (out, in), as checkpoints store
// it: a View of the weight storage type, or a QuantView of a quantized format.

#include <cstdint>

#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/contracts.hpp"

namespace dsvl::nn {

template <class Tag, class WView>
void linear(Tag tag, View<const float, 2> x, const WView& w, View<float, 2> y, ThreadPool& pool) {
  if (x.shape(0) == 1) kernels::gemv(tag, x[0], w, View<const float, 1>{}, y[0], pool);
  else kernels::gemm(tag, x, w, View<const float, 1>{}, y, pool);
}

}  // namespace dsvl::nn
