#pragma once
// Policy<KernelTag, Weight, Act>: which kernels run (scalar reference, xsimd, Highway, CUDA), how
// weights are stored (float, bf16, or a quantized format q8<G> / q4<G>) and the activation type.
//
// A quantized format applies to the matrices of linear layers. The other tensors keep a float
// type, dense_weight_t<P> (bf16): token embeddings, norms, the MoE router and its bias, MLA's
// kv_b_proj (split at load into the absorbed decode form), convolution kernels. The models run
// their vision side (towers and projectors) under a policy of its own, by default
// dense_policy_t<P>, so that a quantized P quantizes only the language model; a quantized vision
// policy, their third template parameter, rounds the vision matrices too (docs/quantization.md).
// The output head, head_weight_t<P>, is q8 under both formats: the logits are its direct output,
// and 4 bits there cost more top-1 agreement than they save in bandwidth.

#include <concepts>
#include <type_traits>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/quant.hpp"
#include "dsvl/policy/tags.hpp"

namespace dsvl {

template <class KernelTag, class Weight = float, class Act = float>
struct Policy {
  using kernel_tag = KernelTag;
  using weight_type = Weight;
  using act_type = Act;
};

// The backend of P's kernel tag must be included (kernels_included in policy/tags.hpp): for
// policies::Hwy*, <dsvl/policy/hwy.hpp>; for policies::Xsimd*, <dsvl/policy/xsimd.hpp>.
template <class Tag>
concept KernelsIncluded = requires { kernels_included<Tag>::value; };

template <class P>
concept KernelPolicy = requires {
  typename P::kernel_tag;
  typename P::weight_type;
  typename P::act_type;
} && KernelsIncluded<typename P::kernel_tag> && (std::derived_from<typename P::kernel_tag, scalar_tag> ||
      std::same_as<typename P::kernel_tag, cuda_tag>) &&
  (std::same_as<typename P::weight_type, float> || std::same_as<typename P::weight_type, bf16> ||
   (is_quant_format_v<typename P::weight_type> && !std::same_as<typename P::kernel_tag, cuda_tag>)) &&
  std::same_as<typename P::act_type, float>;

namespace detail {
template <class W> struct weight_roles { using dense = W; using head = W; };
template <int G> struct weight_roles<q8<G>> { using dense = bf16; using head = q8<G>; };
template <int G> struct weight_roles<q4<G>> { using dense = bf16; using head = q8<G>; };
}  // namespace detail

// The storage of tensors that stay in a float type under a quantized policy (see above).
template <class P>
using dense_weight_t = typename detail::weight_roles<typename P::weight_type>::dense;
// The storage of the language model's output head.
template <class P>
using head_weight_t = typename detail::weight_roles<typename P::weight_type>::head;
// P with its weight type replaced by dense_weight_t<P>: the models' default vision policy.
template <class P>
using dense_policy_t = Policy<typename P::kernel_tag, dense_weight_t<P>, typename P::act_type>;

// Group size of the quantized policies: one f16 scale per 32 weights, as ggml's Q8_0 and Q4_0
// (1.0625 and 0.5625 bytes per weight); 32 divides every width of the supported models' language
// models, and a group fills one AVX2 register of int8 codes.
inline constexpr int kQuantGroup = 32;

// The presets. policies::XsimdF32 and XsimdBF16 are in policy/xsimd.hpp (with xsimd); the Hwy*
// presets need <dsvl/policy/hwy.hpp> to run (KernelPolicy above).
namespace policies {
using ScalarF32 = Policy<scalar_tag, float>;
using ScalarBF16 = Policy<scalar_tag, bf16>;
using HwyF32 = Policy<hwy_tag, float>;
using HwyBF16 = Policy<hwy_tag, bf16>;
using HwyBF16Dot = Policy<hwy_bf16_tag, bf16>;  // bf16 weights, bf16 products (hwy_bf16_tag)
using ScalarQ8 = Policy<scalar_tag, q8<kQuantGroup>>;
using ScalarQ4 = Policy<scalar_tag, q4<kQuantGroup>>;
using HwyQ8 = Policy<hwy_tag, q8<kQuantGroup>>;
using HwyQ4 = Policy<hwy_tag, q4<kQuantGroup>>;
using CudaF32 = Policy<cuda_tag, float>;
using CudaBF16 = Policy<cuda_tag, bf16>;
}  // namespace policies

}  // namespace dsvl
