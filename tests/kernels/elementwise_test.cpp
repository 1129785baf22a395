#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

// add, mul and scale are one correctly rounded operation per element in every policy: exact.
TEST_CASE_TEMPLATE("add, mul and scale match the scalar reference", Tag, xsimd_tag<>, hwy_tag) {
  for (std::int64_t T : {0, 1, 3}) {
    for (std::int64_t D : kLengths) {
      for (bool broadcast : {false, true}) {
        CAPTURE(T);
        CAPTURE(D);
        CAPTURE(broadcast);
        const std::int64_t ld = D + 3, Tb = broadcast ? 1 : T;
        Buffer<float> a(T * ld), b(Tb * ld, 2), got(T * ld, 3), want(T * ld);
        fill_uniform(a.data(), T * ld);
        fill_uniform(b.data(), Tb * ld);
        View<const float, 2> av(a.data(), {T, D}, {ld, 1}), bv(b.data(), {Tb, D}, {ld, 1});
        View<float, 2> gv(got.data(), {T, D}, {ld, 1}), wv(want.data(), {T, D}, {ld, 1});
        auto check = [&] {
          for (std::int64_t t = 0; t < T; ++t) DSVL_CHECK_CLOSE(got.data() + t * ld, want.data() + t * ld, D, 0.0, 0.0);
        };
        kernels::add(scalar_tag{}, av, bv, wv);
        kernels::add(Tag{}, av, bv, gv);
        check();
        kernels::mul(scalar_tag{}, av, bv, wv);
        kernels::mul(Tag{}, av, bv, gv);
        check();
        kernels::scale(scalar_tag{}, av, -0.37f, wv);
        kernels::scale(Tag{}, av, -0.37f, gv);
        check();
      }
    }
  }
}

TEST_CASE_TEMPLATE("add broadcasts a bias row and works in place", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, bias = {10, 20, 30};
  kernels::add(Tag{}, view<const float>(a.data(), {2, 3}), view<const float>(bias.data(), {1, 3}), view(a.data(), {2, 3}));
  CHECK(a == std::vector<float>{11, 22, 33, 14, 25, 36});
  kernels::mul(Tag{}, view<const float>(a.data(), {2, 3}), view<const float>(a.data(), {2, 3}), view(a.data(), {2, 3}));
  CHECK(a == std::vector<float>{121, 484, 1089, 196, 625, 1296});
  kernels::scale(Tag{}, view<const float>(a.data(), {2, 3}), 0.5f, view(a.data(), {2, 3}));
  CHECK(a == std::vector<float>{60.5f, 242, 544.5f, 98, 312.5f, 648});
}

TEST_CASE_TEMPLATE("elementwise ops reject mismatched shapes", Tag, scalar_tag, xsimd_tag<>, hwy_tag) {
  std::vector<float> a(6), b(6), out(6);
  const auto av = view<const float>(a.data(), {2, 3});
  CHECK_THROWS_WITH_AS(kernels::add(Tag{}, av, view<const float>(b.data(), {2, 2}), view(out.data(), {2, 3})),
                       doctest::Contains("kernels::add"), dsvl::Error);
  CHECK_THROWS_WITH_AS(kernels::mul(Tag{}, av, view<const float>(b.data(), {3, 2}), view(out.data(), {2, 3})),
                       doctest::Contains("kernels::mul"), dsvl::Error);
  CHECK_THROWS_WITH_AS(kernels::scale(Tag{}, av, 2.0f, view(out.data(), {3, 2})), doctest::Contains("kernels::scale"),
                       dsvl::Error);
}
