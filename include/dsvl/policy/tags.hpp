#pragma once
// Kernel tags. A kernel is an overload set on its first parameter, the tag. The SIMD tags inherit
// scalar_tag, so an op without a native version falls back to the scalar reference (and
// kernels::native_v<Op, Tag> says so); cuda_tag inherits nothing, so an op without a CUDA kernel
// does not compile.

#include <string_view>

#include <xsimd/xsimd.hpp>

namespace dsvl {

// The scalar reference: plain C++, the definition every other kernel is tested against.
struct scalar_tag {
  static constexpr std::string_view name = "scalar";
  static constexpr bool on_host = true;
};

// xsimd kernels for one instruction set (default: the best one the compiler targets).
template <class Arch = xsimd::default_arch>
struct xsimd_tag : scalar_tag {
  using arch = Arch;
  static constexpr std::string_view name = "xsimd";
};

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

}  // namespace dsvl
