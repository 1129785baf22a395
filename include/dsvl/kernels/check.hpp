#pragma once
// Argument checks shared by every kernel's contract: a failed check throws dsvl::Error naming
// the kernel, never reads out of bounds.

#include "dsvl/core/error.hpp"
#include "dsvl/core/view.hpp"

namespace dsvl::kernels::detail {

template <class V>
void check_rows_view(const char* where, const char* name, const V& v) {
  DSVL_CHECK(v.inner_contiguous(), where, name, " must have a contiguous last dimension");
}

template <class A, class B>
void check_same_shape(const char* where, const char* a_name, const A& a, const char* b_name, const B& b) {
  DSVL_CHECK(same_shape(a, b), where, a_name, " and ", b_name, " must have the same shape");
}

}  // namespace dsvl::kernels::detail
