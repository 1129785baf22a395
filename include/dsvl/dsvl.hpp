#pragma once
// dsvl: DeepSeek-VL and DeepSeek-VL2 inference. The umbrella header for the CPU library
// (<dsvl/cuda.hpp> adds the CUDA policy).

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/extent.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/policy/tags.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/io/detokenizer.hpp"
#include "dsvl/kernels/kernels.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/vision/siglip_vit.hpp"
#include "dsvl/language/chat_format.hpp"
#include "dsvl/language/dense_decoder.hpp"
#include "dsvl/language/generate.hpp"
#include "dsvl/language/grounding.hpp"
#include "dsvl/language/sampler.hpp"
