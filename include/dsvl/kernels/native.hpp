#pragma once
// native_v<Op, Tag>: whether `Tag` has its own kernel for `Op` or falls back to the scalar
// reference. Each backend header specialises it next to the kernel it adds, so the table is
// true by construction; tests and benchmarks print it (native_matrix) so a fallback is visible.

#include <ostream>
#include <string_view>
#include <string>
#include <tuple>
#include <type_traits>

#include "dsvl/policy/tags.hpp"

namespace dsvl::kernels {

// One type per op; `name` is what the matrix prints.
namespace op {
#define DSVL_DECLARE_OP(id) \
  struct id {               \
    static constexpr std::string_view name = #id; \
  };
DSVL_DECLARE_OP(gemm)
DSVL_DECLARE_OP(gemv)
DSVL_DECLARE_OP(gemm_quant)
DSVL_DECLARE_OP(gemv_quant)
DSVL_DECLARE_OP(rms_norm)
DSVL_DECLARE_OP(layer_norm)
DSVL_DECLARE_OP(layer_norm2d)
DSVL_DECLARE_OP(softmax)
DSVL_DECLARE_OP(gelu_erf)
DSVL_DECLARE_OP(gelu_tanh)
DSVL_DECLARE_OP(silu)
DSVL_DECLARE_OP(quick_gelu)
DSVL_DECLARE_OP(swiglu)
DSVL_DECLARE_OP(rope_half)
DSVL_DECLARE_OP(rope_interleaved)
DSVL_DECLARE_OP(add)
DSVL_DECLARE_OP(mul)
DSVL_DECLARE_OP(scale)
DSVL_DECLARE_OP(conv2d)
DSVL_DECLARE_OP(interpolate)
DSVL_DECLARE_OP(pixel_unshuffle)
DSVL_DECLARE_OP(topk)
#undef DSVL_DECLARE_OP
using all = std::tuple<gemm, gemv, gemm_quant, gemv_quant, rms_norm, layer_norm, layer_norm2d, softmax, gelu_erf, gelu_tanh, silu,
                       quick_gelu, swiglu, rope_half, rope_interleaved, add, mul, scale, conv2d, interpolate,
                       pixel_unshuffle, topk>;
}  // namespace op

namespace detail {
template <class Tag>
inline constexpr bool has_no_kernel = false;
}  // namespace detail

// Declares, next to an op's scalar reference, the overload that a device tag (one that does not
// derive from scalar_tag) reaches when it has no kernel for the op: it stops the build with a
// sentence instead of a page of candidates. It takes a C variadic, the worst possible match, so
// it is chosen only when no real kernel is viable, and it does not exist for a tag that has the
// kernel (then a wrong call gets the compiler's usual candidate list, which names the kernel).
#define DSVL_DEVICE_KERNEL_REQUIRED(op_name)                                                           \
  template <class Tag>                                                                                 \
    requires(!std::is_base_of_v<::dsvl::scalar_tag, Tag> &&                                            \
             !::dsvl::kernels::native_v<::dsvl::kernels::op::op_name, Tag>)                            \
  void op_name(Tag, ...) {                                                                             \
    static_assert(::dsvl::kernels::detail::has_no_kernel<Tag>,                                         \
                  "dsvl: this policy's kernel tag has no '" #op_name "' kernel, and device policies "   \
                  "have no scalar fallback: add the kernel (docs/adding-a-kernel.md) or use a host policy"); \
  }

// The scalar reference is native by definition; everything else opts in.
template <class Op, class Tag>
inline constexpr bool native_v = std::is_same_v<Tag, scalar_tag>;
// hwy_bf16_tag has its own GEMM and hwy_tag's other kernels: what hwy_tag has, it has.
template <class Op>
inline constexpr bool native_v<Op, hwy_bf16_tag> = native_v<Op, hwy_tag>;

template <class Tag>
constexpr const char* fallback_word() {
  // Host tags fall back to the scalar reference; a device tag has no fallback at all.
  return std::is_base_of_v<scalar_tag, Tag> ? "fallback  " : "absent    ";
}

// Prints one row per op and one column per tag: "native" or "fallback".
template <class... Tags>
void print_native_matrix(std::ostream& os) {
  os << "op                ";
  ((os << "  " << Tags::name << std::string(10 - Tags::name.size(), ' ')), ...);
  os << '\n';
  std::apply(
      [&](auto... ops) {
        (
            [&](auto o) {
              using Op = decltype(o);
              os << Op::name << std::string(18 - Op::name.size(), ' ');
              ((os << "  " << (native_v<Op, Tags> ? "native    " : fallback_word<Tags>())), ...);
              os << '\n';
            }(ops),
            ...);
      },
      op::all{});
}

}  // namespace dsvl::kernels
