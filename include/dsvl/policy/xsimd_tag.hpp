#pragma once
// xsimd_tag<Arch>: the xsimd kernels for one instruction set, by default the best one the
// compiler targets (xsimd::default_arch). The tag lives with the xsimd library it names; the
// kernels and the presets policies::XsimdF32 / XsimdBF16 are in <dsvl/policy/xsimd.hpp>.

#include <string_view>

#include <xsimd/xsimd.hpp>

#include "dsvl/policy/tags.hpp"

namespace dsvl {

template <class Arch = xsimd::default_arch>
struct xsimd_tag : scalar_tag {
  using arch = Arch;
  static constexpr std::string_view name = "xsimd";
};

}  // namespace dsvl
