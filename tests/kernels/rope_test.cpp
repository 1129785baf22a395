#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

namespace {
// cos/sin tables for the given positions, (T, half).
struct Tables {
  Tensor<float, 2> cos, sin;
  Tables(const std::vector<std::int32_t>& pos, std::int64_t half, float theta = 10000.0f)
      : cos({static_cast<std::int64_t>(pos.size()), half}), sin({static_cast<std::int64_t>(pos.size()), half}) {
    kernels::rope_cos_sin(view<const std::int32_t>(pos.data(), {static_cast<std::int64_t>(pos.size())}), theta, 2 * half,
                          cos.view(), sin.view());
  }
  View<const float, 2> c() const { return cos.view(); }
  View<const float, 2> s() const { return sin.view(); }
};

std::vector<std::int32_t> positions(std::int64_t T) {
  std::vector<std::int32_t> p;
  for (std::int64_t t = 0; t < T; ++t) p.push_back(static_cast<std::int32_t>(t * 37 + 5));
  return p;
}
}  // namespace

// Tolerance: each output is a*c - b*s (or b*c + a*s); a policy may fuse one product into the
// subtraction, which changes the result by at most 1 ulp of |a*c| + |b*s| <= 1.4 for inputs in
// [-1, 1]: 2^-23 * 1.4 ~ 1.7e-7 absolute. The dims beyond rotary_dim must not change at all.
TEST_CASE_TEMPLATE("rope matches the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  for (std::int64_t T : {0, 1, 3}) {
    for (std::int64_t H : {1, 3}) {
      for (std::int64_t half : kLengths) {
        for (bool interleaved : {false, true}) {
          CAPTURE(T);
          CAPTURE(H);
          CAPTURE(half);
          CAPTURE(interleaved);
          const std::int64_t Dh = 2 * half + 3;           // 3 dims past rotary_dim stay as they are
          const std::int64_t hs = Dh + 2, ts = H * hs + 5;  // padded head and token strides
          Buffer<float> got(T * ts, 2), want(T * ts);
          fill_uniform(want.data(), T * ts);
          std::copy(want.data(), want.data() + T * ts, got.data());
          const Buffer<float> x0 = want;
          const Tables tab(positions(T), half);
          View<float, 3> gv(got.data(), {T, H, Dh}, {ts, hs, 1}), wv(want.data(), {T, H, Dh}, {ts, hs, 1});
          if (interleaved) {
            kernels::rope_interleaved(scalar_tag{}, wv, tab.c(), tab.s());
            kernels::rope_interleaved(Tag{}, gv, tab.c(), tab.s());
          } else {
            kernels::rope_half(scalar_tag{}, wv, tab.c(), tab.s());
            kernels::rope_half(Tag{}, gv, tab.c(), tab.s());
          }
          for (std::int64_t t = 0; t < T; ++t)
            for (std::int64_t h = 0; h < H; ++h) {
              const std::int64_t o = t * ts + h * hs;
              DSVL_CHECK_CLOSE(got.data() + o, want.data() + o, 2 * half, 1.7e-7, 0.0);
              DSVL_CHECK_CLOSE(got.data() + o + 2 * half, x0.data() + o + 2 * half, 3, 0.0, 0.0);
            }
        }
      }
    }
  }
}

TEST_CASE("rope_cos_sin follows transformers' f32 recipe") {
  const std::vector<std::int32_t> pos = {0, 1, 7, 4095};
  const Tables tab(pos, 64);
  for (std::int64_t t = 0; t < 4; ++t)
    for (std::int64_t j = 0; j < 64; ++j) {
      const float inv_freq = 1.0f / std::pow(10000.0f, static_cast<float>(2 * j) / 128.0f);
      const float angle = static_cast<float>(pos[t]) * inv_freq;
      CHECK(tab.cos(t, j) == std::cos(angle));
      CHECK(tab.sin(t, j) == std::sin(angle));
      // and inv_freq is theta^(-2j/d) to f32 accuracy
      CHECK(inv_freq == doctest::Approx(std::pow(10000.0, -2.0 * j / 128.0)).epsilon(1e-6));
    }
  CHECK(tab.cos(0, 5) == 1.0f);
  CHECK(tab.sin(0, 5) == 0.0f);
  CHECK(tab.cos(1, 0) == std::cos(1.0f));
}

TEST_CASE_TEMPLATE("rope at position 0 is the identity and rotations keep pair norms", Tag, scalar_tag, xsimd_tag<>,
                   hwy_tag) {
  const std::int64_t T = 3, H = 4, Dh = 64;
  Tensor<float, 3> x({T, H, Dh});
  fill_uniform(x.data(), x.size());
  const Tensor<float, 3> x0 = x.clone();
  const Tables zero({0, 0, 0}, Dh / 2), tab({0, 100, 4000}, Dh / 2);
  kernels::rope_half(Tag{}, x.view(), zero.c(), zero.s());
  kernels::rope_interleaved(Tag{}, x.view(), zero.c(), zero.s());
  DSVL_CHECK_CLOSE(x.data(), x0.data(), x.size(), 0.0, 0.0);
  kernels::rope_half(Tag{}, x.view(), tab.c(), tab.s());
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t i = 0; i < Dh / 2; ++i) {
        const double before = std::hypot(x0(t, h, i), x0(t, h, i + Dh / 2));
        CHECK(std::hypot(x(t, h, i), x(t, h, i + Dh / 2)) == doctest::Approx(before).epsilon(1e-6));
      }
  x = x0.clone();
  kernels::rope_interleaved(Tag{}, x.view(), tab.c(), tab.s());
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t j = 0; j < Dh / 2; ++j) {
        const double before = std::hypot(x0(t, h, 2 * j), x0(t, h, 2 * j + 1));
        CHECK(std::hypot(x(t, h, 2 * j), x(t, h, 2 * j + 1)) == doctest::Approx(before).epsilon(1e-6));
      }
}

// spec.md 5.4: permuting each head's rope dims to [evens, odds] (at load time, in the projection
// rows) and applying the NeoX rotation reproduces the interleaved rotation, permuted the same way.
// Both compute the same products and sums per pair, so the equality is exact.
TEST_CASE_TEMPLATE("rope_interleaved is rope_half on heads permuted to [evens, odds]", Tag, scalar_tag, xsimd_tag<>,
                   hwy_tag) {
  const std::int64_t T = 5, H = 3, Dh = 64, half = 32;
  Tensor<float, 3> x({T, H, Dh}), p({T, H, Dh});
  fill_uniform(x.data(), x.size());
  const auto permute = [&](const Tensor<float, 3>& from, Tensor<float, 3>& to) {
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t j = 0; j < half; ++j) {
          to(t, h, j) = from(t, h, 2 * j);
          to(t, h, j + half) = from(t, h, 2 * j + 1);
        }
  };
  permute(x, p);
  const Tables tab({0, 1, 2, 63, 4095}, half);
  kernels::rope_interleaved(Tag{}, x.view(), tab.c(), tab.s());
  kernels::rope_half(Tag{}, p.view(), tab.c(), tab.s());
  Tensor<float, 3> xp({T, H, Dh});
  permute(x, xp);
  DSVL_CHECK_CLOSE(xp.data(), p.data(), p.size(), 0.0, 0.0);
}

TEST_CASE_TEMPLATE("rope rejects bad shapes", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> x(2 * 8), c(2 * 5), s(2 * 5);
  CHECK_THROWS_WITH_AS(kernels::rope_half(Tag{}, view(x.data(), {2, 1, 8}), view<const float>(c.data(), {2, 5}),
                                          view<const float>(s.data(), {2, 5})),
                       doctest::Contains("exceeds the head dim"), dsvl::Error);
  CHECK_THROWS_WITH_AS(kernels::rope_interleaved(Tag{}, view(x.data(), {2, 1, 8}), view<const float>(c.data(), {1, 4}),
                                                 view<const float>(s.data(), {1, 4})),
                       doctest::Contains("kernels::rope_interleaved"), dsvl::Error);
  std::vector<std::int32_t> pos = {0, 1};
  CHECK_THROWS_WITH_AS(kernels::rope_cos_sin(view<const std::int32_t>(pos.data(), {2}), 10000.0f, 7,
                                             view(c.data(), {2, 3}), view(s.data(), {2, 3})),
                       doctest::Contains("kernels::rope_cos_sin"), dsvl::Error);
}
