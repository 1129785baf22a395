#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>

#include "dsvl/dsvl.hpp"

int main(int argc, char** argv) {
  // Which (op, policy) pairs have their own kernel and which fall back to the scalar reference.
  std::cout << "dsvl kernels (" << dsvl::ThreadPool::global().size() << " threads):\n";
  dsvl::kernels::print_native_matrix<dsvl::scalar_tag, dsvl::xsimd_tag<>, dsvl::hwy_tag>(std::cout);
  std::cout << std::endl;
  doctest::Context ctx;
  ctx.applyCommandLine(argc, argv);
  return ctx.run();
}
