#include <doctest/doctest.h>
#include "dsvl/core/dtype.hpp"
TEST_CASE("placeholder build check") { CHECK(dsvl::dtype_size(dsvl::DType::bf16) == 2); }
