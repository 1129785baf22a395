// A host kernel handed a view of device memory stops the build.
#include "dsvl/dsvl.hpp"

int main() {
  float x[4] = {}, y[4] = {}, w[4] = {};
  dsvl::View<const float, 2> host_x(x, {1, 4});
#ifdef DSVL_FAILTEST_OK
  dsvl::View<const float, 2> in = host_x;
#else
  dsvl::View<const float, 2, dsvl::Memory::cuda> in(x, {1, 4});
#endif
  dsvl::kernels::rms_norm(dsvl::hwy_tag{}, in, dsvl::view<const float>(w, {4}), 1e-6f, dsvl::view(y, {1, 4}));
  return 0;
}
