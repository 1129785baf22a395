#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <iostream>

#include "dsvl/cuda.hpp"

int main(int argc, char** argv) {
  // Which ops the CUDA policy has ("absent" ones do not compile with cuda_tag).
  std::cout << "dsvl CUDA kernels:\n";
  dsvl::kernels::print_native_matrix<dsvl::cuda_tag>(std::cout);
  doctest::Context ctx;
  int devices = 0;
  const cudaError_t e = cudaGetDeviceCount(&devices);
  if (e != cudaSuccess || devices == 0) {
    std::cout << "no CUDA device: CUDA tests skipped ("
              << (e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found none") << ")\n";
    ctx.addFilter("test-suite-exclude", "cuda device");
  } else {
    cudaDeviceProp p{};
    dsvl::cuda_check(cudaGetDeviceProperties(&p, 0), "test_cuda");
    std::cout << "CUDA device 0: " << p.name << " (compute capability " << p.major << '.' << p.minor << ")\n";
  }
  std::cout << std::endl;
  ctx.applyCommandLine(argc, argv);
  return ctx.run();
}
