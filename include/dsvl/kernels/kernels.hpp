#pragma once
// Every kernel with its scalar reference and its xsimd and Highway versions.

#include "dsvl/kernels/native.hpp"

#include "dsvl/kernels/rms_norm.hpp"
#include "dsvl/kernels/xsimd/rms_norm.hpp"
#include "dsvl/kernels/hwy/rms_norm.hpp"
