#pragma once
// The Highway backend: every kernel that has a Highway version (kernels/hwy/<op>.hpp, statically
// dispatched to the target the compiler builds for), for hwy_tag and hwy_bf16_tag and so for the
// presets policies::HwyF32, HwyBF16, HwyBF16Dot, HwyQ8 and HwyQ4 (policy/policy.hpp).
//
// Include it before any header that calls kernels generically (the blocks in vision/, language/,
// nn/ and models/, or kernels/contracts.hpp): a block calls `kernels::op(tag, ...)` by qualified
// name and so sees only the kernels declared before it; included after one, this header stops
// the build rather than let the block run the scalar reference.

#ifdef DSVL_KERNEL_CALLERS_INCLUDED
#error "dsvl: include <dsvl/policy/hwy.hpp> before the block headers (vision/, language/, nn/, models/) and kernels/contracts.hpp; a block included earlier would run the scalar reference"
#endif

#include <type_traits>

#include "dsvl/policy/policy.hpp"
#include "dsvl/policy/tags.hpp"

#include "dsvl/kernels/hwy/activations.hpp"
#include "dsvl/kernels/hwy/attention.hpp"
#include "dsvl/kernels/hwy/conv2d.hpp"
#include "dsvl/kernels/hwy/elementwise.hpp"
#include "dsvl/kernels/hwy/gemm.hpp"
#include "dsvl/kernels/hwy/gemv.hpp"
#include "dsvl/kernels/hwy/interpolate.hpp"
#include "dsvl/kernels/hwy/layer_norm.hpp"
#include "dsvl/kernels/hwy/pixel_unshuffle.hpp"
#include "dsvl/kernels/hwy/rms_norm.hpp"
#include "dsvl/kernels/hwy/rope.hpp"
#include "dsvl/kernels/hwy/softmax.hpp"
#include "dsvl/kernels/hwy/topk.hpp"

namespace dsvl {

template <>
struct kernels_included<hwy_tag> : std::true_type {};
template <>
struct kernels_included<hwy_bf16_tag> : std::true_type {};

}  // namespace dsvl
