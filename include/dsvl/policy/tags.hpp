#pragma once
// Kernel tags. A kernel is an overload set on its first parameter, the tag. The SIMD tags inherit
// scalar_tag, so an op without a native version falls back to the scalar reference (and
// kernels::native_v<Op, Tag> says so); cuda_tag inherits nothing, so an op without a CUDA kernel
// does not compile.
//
// This header names the tags and includes no SIMD library. A backend's kernels come with its own
// header: <dsvl/policy/xsimd.hpp> (which also defines xsimd_tag), <dsvl/policy/hwy.hpp>,
// <dsvl/cuda.hpp>. Include those before any header that calls kernels generically (the blocks in
// vision/, language/, nn/, models/): a block calls `kernels::op(tag, ...)` by qualified name, so
// it sees the kernels declared before it (the backend headers stop the build if they come after).

#include <string_view>
#include <type_traits>

namespace dsvl {

namespace kernels {
// A base of every host tag, so that dsvl::kernels is an associated namespace of the tags: a
// composite kernel's unqualified calls (attention's gemm and softmax) then find, by argument-
// dependent lookup where the composite is instantiated, backend kernels declared after it.
struct tag_lookup {};
}  // namespace kernels

// The scalar reference: plain C++, the definition every other kernel is tested against.
struct scalar_tag : kernels::tag_lookup {
  static constexpr std::string_view name = "scalar";
  static constexpr bool on_host = true;
};

// xsimd kernels for one instruction set (default: the best one the compiler targets, xsimd's
// default_arch); defined in policy/xsimd_tag.hpp, with the xsimd library.
template <class Arch>
struct xsimd_tag;

// Highway kernels, statically dispatched to the target the compiler builds for (HWY_STATIC_TARGET).
struct hwy_tag : scalar_tag {
  static constexpr std::string_view name = "hwy";
};

// Highway kernels whose matrix products with bf16 weights round the activations to bf16 too and
// accumulate in f32, as PyTorch's bf16 CPU path and llama.cpp's BF16 type do: on AVX512-BF16
// (vdpbf16ps) twice the f32 rate, at the cost of an 8-bit mantissa on the activations (the GEMM
// figures are in docs/benchmarks.md). Every other kernel is hwy_tag's.
struct hwy_bf16_tag : hwy_tag {
  static constexpr std::string_view name = "hwy-bf16";
};

// CUDA kernels on device memory (include <dsvl/cuda.hpp>, build with DSVL_WITH_CUDA).
struct cuda_tag {
  static constexpr std::string_view name = "cuda";
  static constexpr bool on_host = false;
};

template <class T>
inline constexpr bool is_xsimd_tag_v = false;
template <class A>
inline constexpr bool is_xsimd_tag_v<xsimd_tag<A>> = true;

// Complete (and true) when the kernels of `Tag` are in the translation unit. The SIMD tags'
// specialisations are declared here and defined by their backend headers, policy/xsimd.hpp and
// policy/hwy.hpp; KernelPolicy (policy/policy.hpp) requires a complete one, so that a block
// instantiated with policies::HwyBF16 without <dsvl/policy/hwy.hpp> does not compile instead of
// running the scalar reference. Any other tag (scalar_tag, cuda_tag, a test's own) has it.
template <class Tag>
struct kernels_included : std::true_type {};
template <>
struct kernels_included<hwy_tag>;
template <>
struct kernels_included<hwy_bf16_tag>;
template <class A>
struct kernels_included<xsimd_tag<A>>;

}  // namespace dsvl
