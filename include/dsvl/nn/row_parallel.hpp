#pragma once
// Row-wise kernels (norms, element-wise ops) split over a ThreadPool by rows, at least 16 rows per
// thread: the kernels themselves run on one thread, the blocks call them through these.

#include <cstdint>

#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/contracts.hpp"

namespace dsvl::nn {

// f(r0, r1) over [0, n) in contiguous row ranges, one per thread.
template <class F>
void by_rows(ThreadPool& pool, std::int64_t n, F&& f) {
  pool.parallel_for(0, n, f, 16);
}

// y = LayerNorm(in) with weight w, bias b and eps, row by row.
template <class Tag, class W>
void layer_norm_rows(Tag tag, ThreadPool& pool, View<const float, 2> in, View<const W, 1> w, View<const W, 1> b,
                     float eps, View<float, 2> y) {
  by_rows(pool, in.shape(0), [&](std::int64_t r0, std::int64_t r1) {
    kernels::layer_norm(tag, in.slice(0, r0, r1), w, b, eps, y.slice(0, r0, r1));
  });
}

// x += y
template <class Tag>
void add_rows(Tag tag, ThreadPool& pool, View<float, 2> x, View<const float, 2> y) {
  by_rows(pool, x.shape(0), [&](std::int64_t r0, std::int64_t r1) {
    kernels::add(tag, View<const float, 2>(x.slice(0, r0, r1)), y.slice(0, r0, r1), x.slice(0, r0, r1));
  });
}

}  // namespace dsvl::nn
