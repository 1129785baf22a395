// dsvl::copy moves data between host and device only: two host views stop the build.
#include "dsvl/core/device.hpp"

int main() {
  float a[4] = {}, b[4] = {};
  dsvl::HostView<const float, 1> src(a, {4});
#ifdef DSVL_FAILTEST_OK
  dsvl::DeviceView<float, 1> dst(nullptr, {4});
#else
  dsvl::HostView<float, 1> dst(b, {4});
#endif
  dsvl::copy(src, dst);
  return static_cast<int>(b[0]);
}
