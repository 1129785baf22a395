#pragma once
// Policy<KernelTag, Weight, Act>: which kernels run (scalar reference, xsimd, Highway, CUDA), how
// weights are stored (float or bf16; quantized formats later) and the activation type.

#include <concepts>
#include <type_traits>

#include "dsvl/core/dtype.hpp"
#include "dsvl/policy/tags.hpp"

namespace dsvl {

template <class KernelTag, class Weight = float, class Act = float>
struct Policy {
  using kernel_tag = KernelTag;
  using weight_type = Weight;
  using act_type = Act;
};

template <class P>
concept KernelPolicy = requires {
  typename P::kernel_tag;
  typename P::weight_type;
  typename P::act_type;
} && (std::derived_from<typename P::kernel_tag, scalar_tag> ||
      std::same_as<typename P::kernel_tag, cuda_tag>) &&
  (std::same_as<typename P::weight_type, float> || std::same_as<typename P::weight_type, bf16>) &&
  std::same_as<typename P::act_type, float>;

namespace policies {
using ScalarF32 = Policy<scalar_tag, float>;
using ScalarBF16 = Policy<scalar_tag, bf16>;
using XsimdF32 = Policy<xsimd_tag<>, float>;
using XsimdBF16 = Policy<xsimd_tag<>, bf16>;
using HwyF32 = Policy<hwy_tag, float>;
using HwyBF16 = Policy<hwy_tag, bf16>;
using CudaF32 = Policy<cuda_tag, float>;
using CudaBF16 = Policy<cuda_tag, bf16>;
}  // namespace policies

}  // namespace dsvl
