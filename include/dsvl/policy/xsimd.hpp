#pragma once
// The xsimd backend: xsimd_tag, every kernel that has an xsimd version (kernels/xsimd/<op>.hpp)
// and the presets policies::XsimdF32 and XsimdBF16.
//
// Include it before any header that calls kernels generically (the blocks in vision/, language/,
// nn/ and models/, or kernels/contracts.hpp): a block calls `kernels::op(tag, ...)` by qualified
// name and so sees only the kernels declared before it; included after one, this header stops
// the build rather than let the block run the scalar reference.

#ifdef DSVL_KERNEL_CALLERS_INCLUDED
#error "dsvl: include <dsvl/policy/xsimd.hpp> before the block headers (vision/, language/, nn/, models/) and kernels/contracts.hpp; a block included earlier would run the scalar reference"
#endif

#include <type_traits>

#include "dsvl/policy/policy.hpp"
#include "dsvl/policy/tags.hpp"
#include "dsvl/policy/xsimd_tag.hpp"

#include "dsvl/kernels/xsimd/activations.hpp"
#include "dsvl/kernels/xsimd/conv2d.hpp"
#include "dsvl/kernels/xsimd/elementwise.hpp"
#include "dsvl/kernels/xsimd/gemm.hpp"
#include "dsvl/kernels/xsimd/gemv.hpp"
#include "dsvl/kernels/xsimd/interpolate.hpp"
#include "dsvl/kernels/xsimd/layer_norm.hpp"
#include "dsvl/kernels/xsimd/pixel_unshuffle.hpp"
#include "dsvl/kernels/xsimd/rms_norm.hpp"
#include "dsvl/kernels/xsimd/rope.hpp"
#include "dsvl/kernels/xsimd/softmax.hpp"
#include "dsvl/kernels/xsimd/topk.hpp"

namespace dsvl {

template <class A>
struct kernels_included<xsimd_tag<A>> : std::true_type {};

namespace policies {
using XsimdF32 = Policy<xsimd_tag<>, float>;
using XsimdBF16 = Policy<xsimd_tag<>, bf16>;
}  // namespace policies

}  // namespace dsvl
