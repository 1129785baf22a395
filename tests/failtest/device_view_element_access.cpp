// Elements of a device view cannot be read on the host.
#include "dsvl/core/view.hpp"

int main() {
  float storage[4] = {};
#ifdef DSVL_FAILTEST_OK
  dsvl::View<float, 1> v(storage, {4});
#else
  dsvl::View<float, 1, dsvl::Memory::cuda> v(storage, {4});
#endif
  return static_cast<int>(v(0));
}
