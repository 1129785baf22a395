#pragma once
// dsvl's CUDA policy (cuda_tag): device memory (DeviceTensor, copy, CudaContext) and the CUDA
// kernels, on top of the CPU library. Compile with nvcc and link dsvl::cuda. An op without a CUDA
// kernel does not compile with cuda_tag; kernels::native_v<Op, cuda_tag> lists the ones there are.

#include "dsvl/dsvl.hpp"

#include "dsvl/core/device.hpp"
#include "dsvl/kernels/cuda/gemm.cuh"
#include "dsvl/kernels/cuda/rms_norm.cuh"
#include "dsvl/kernels/cuda/softmax.cuh"
