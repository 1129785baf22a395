// A policy whose kernel tag has no kernel for an op (here: a device tag with no rms_norm) stops
// the build with a sentence; host tags would fall back to the scalar reference instead.
#include "dsvl/dsvl.hpp"

struct gpu_without_rms_norm_tag {
  static constexpr std::string_view name = "gpu";
};

int main() {
  float x[4] = {}, y[4] = {}, w[4] = {};
#ifdef DSVL_FAILTEST_OK
  dsvl::kernels::rms_norm(dsvl::scalar_tag{}, dsvl::view<const float>(x, {1, 4}), dsvl::view<const float>(w, {4}),
                          1e-6f, dsvl::view(y, {1, 4}));
#else
  dsvl::kernels::rms_norm(gpu_without_rms_norm_tag{}, dsvl::view<const float>(x, {1, 4}),
                          dsvl::view<const float>(w, {4}), 1e-6f, dsvl::view(y, {1, 4}));
#endif
  return 0;
}
