#include <doctest/doctest.h>

#include <numeric>
#include <vector>

#include "dsvl/core/tensor.hpp"
#include "dsvl/core/view.hpp"

using namespace dsvl;

TEST_CASE("View: contiguous strides in PyTorch order, indexing, slicing") {
  std::vector<float> buf(2 * 3 * 4);
  std::iota(buf.begin(), buf.end(), 0.0f);
  View<float, 3> v(buf.data(), {2, 3, 4});
  CHECK(v.stride(0) == 12);
  CHECK(v.stride(1) == 4);
  CHECK(v.stride(2) == 1);
  CHECK(v.size() == 24);
  CHECK(v.is_contiguous());
  CHECK(v(1, 2, 3) == 23.0f);
  CHECK(v[1](0, 1) == 13.0f);
  auto s = v.slice(2, 1, 3);  // (2, 3, 2), rows no longer contiguous
  CHECK(s.shape(2) == 2);
  CHECK(!s.is_contiguous());
  CHECK(s.inner_contiguous());
  CHECK(s(1, 1, 0) == 17.0f);
  View<const float, 3> c = v;  // non-const -> const converts implicitly
  CHECK(c(0, 0, 1) == 1.0f);
  CHECK_THROWS_AS(v.slice(0, 1, 3), dsvl::Error);
}

TEST_CASE("View: reshape and rows") {
  std::vector<float> buf(24);
  View<float, 3> v(buf.data(), {2, 3, 4});
  auto r = v.rows();
  CHECK(r.shape(0) == 6);
  CHECK(r.shape(1) == 4);
  CHECK(r.stride(0) == 4);
  auto m = v.reshape<2>({4, 6});
  CHECK(m.stride(0) == 6);
  CHECK_THROWS_WITH_AS(v.reshape<2>({5, 5}), doctest::Contains("25 elements, the view has 24"), dsvl::Error);
  CHECK_THROWS_AS(v.slice(2, 0, 2).reshape<1>({12}), dsvl::Error);
}

TEST_CASE("Tensor: aligned, zeroed, move-only, cloneable") {
  Tensor<float, 2> t({3, 5});
  CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % kAlignment == 0);
  CHECK(t.size() == 15);
  for (std::int64_t i = 0; i < t.size(); ++i) CHECK(t.data()[i] == 0.0f);
  t(2, 4) = 7.0f;
  Tensor<float, 2> u = t.clone();
  CHECK(u(2, 4) == 7.0f);
  Tensor<float, 2> w = std::move(t);
  CHECK(w(2, 4) == 7.0f);
  Tensor<float, 1> empty({0});
  CHECK(empty.size() == 0);
  CHECK(empty.view().empty());
  CHECK_THROWS_AS((Tensor<float, 1>({-1})), dsvl::Error);
}
