#include <doctest/doctest.h>
TEST_CASE("io placeholder build check") { CHECK(true); }
