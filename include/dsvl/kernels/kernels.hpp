#pragma once
// Every kernel of every CPU backend: the xsimd and Highway versions (policy/xsimd.hpp,
// policy/hwy.hpp, which must come before any block header) and every contract with its scalar
// reference (kernels/contracts.hpp). Code that uses one backend includes its header instead.

#include "dsvl/policy/xsimd.hpp"
#include "dsvl/policy/hwy.hpp"

#include "dsvl/kernels/contracts.hpp"
