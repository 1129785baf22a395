// An outside program using the installed headers: one kernel in every host policy.
#include <dsvl/dsvl.hpp>

#include <cmath>
#include <cstdio>

int main() {
  float x[5] = {1, 2, 3, 4, 5}, w[5] = {1, 1, 1, 1, 1}, y[3][5] = {};
  const auto xv = dsvl::view<const float>(x, {1, 5});
  const auto wv = dsvl::view<const float>(w, {5});
  dsvl::kernels::rms_norm(dsvl::scalar_tag{}, xv, wv, 1e-6f, dsvl::view(y[0], {1, 5}));
  dsvl::kernels::rms_norm(dsvl::xsimd_tag<>{}, xv, wv, 1e-6f, dsvl::view(y[1], {1, 5}));
  dsvl::kernels::rms_norm(dsvl::hwy_tag{}, xv, wv, 1e-6f, dsvl::view(y[2], {1, 5}));
  for (int i = 0; i < 5; ++i)
    if (std::fabs(y[1][i] - y[0][i]) > 1e-6f || std::fabs(y[2][i] - y[0][i]) > 1e-6f) return 1;
  std::printf("consumer: dsvl works from an installed prefix (y[4] = %.6f)\n", y[0][4]);
  return 0;
}
