#pragma once
// Every kernel's contract with its scalar reference (kernels/<op>.hpp), and nothing of a SIMD
// library: what code generic over the policy (a block) includes. The backends' kernels come from
// their own headers, included first: <dsvl/policy/hwy.hpp>, <dsvl/policy/xsimd.hpp> (or
// <dsvl/kernels/kernels.hpp>, every backend then this).
//
// DSVL_KERNEL_CALLERS_INCLUDED marks that generic callers may now be defined: a backend header
// included after it stops the build (see policy/hwy.hpp).

#ifndef DSVL_KERNEL_CALLERS_INCLUDED
#define DSVL_KERNEL_CALLERS_INCLUDED 1
#endif

#include "dsvl/kernels/native.hpp"

#include "dsvl/kernels/activations.hpp"
#include "dsvl/kernels/attention.hpp"
#include "dsvl/kernels/conv2d.hpp"
#include "dsvl/kernels/elementwise.hpp"
#include "dsvl/kernels/gemm.hpp"
#include "dsvl/kernels/gemv.hpp"
#include "dsvl/kernels/interpolate.hpp"
#include "dsvl/kernels/layer_norm.hpp"
#include "dsvl/kernels/pixel_unshuffle.hpp"
#include "dsvl/kernels/rms_norm.hpp"
#include "dsvl/kernels/rope.hpp"
#include "dsvl/kernels/softmax.hpp"
#include "dsvl/kernels/topk.hpp"
