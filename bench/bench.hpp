#pragma once
// A small benchmark harness: cases register themselves (DSVL_BENCH_CASE), the driver times each
// as the median of several samples and reports GFLOP/s or GB/s with the share of this machine's
// peak, which it measures itself (FMA throughput, DRAM read bandwidth).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dsvl/core/threading.hpp"

namespace dsvl::bench {

enum class Bound { compute, memory };

struct Case {
  std::string op;      // "gemm"
  std::string impl;    // "scalar", "xsimd", "hwy", "openblas", ...
  std::string dtype;   // weight or element type: "f32", "bf16"
  std::string shape;   // "576x2048x2048 (prefill)"
  double flops = 0;    // per call
  double bytes = 0;    // bytes a call must move from memory at least
  Bound bound = Bound::compute;
  bool summary = false;   // part of the short summary (the README's first command)
  bool threaded = false;  // uses the pool: timed at every thread count, else at 1 thread only
  std::vector<std::string> peers;  // impls of the same op and shape to report a speed ratio against
  // Builds the state for `threads` threads and returns the call to time.
  std::function<std::function<void()>(ThreadPool& pool)> setup;
};

inline std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}

struct Registrar {
  explicit Registrar(Case c) { registry().push_back(std::move(c)); }
};

#define DSVL_BENCH_CONCAT2(a, b) a##b
#define DSVL_BENCH_CONCAT(a, b) DSVL_BENCH_CONCAT2(a, b)
// DSVL_BENCH_CASE(dsvl::bench::Case{...});
#define DSVL_BENCH_CASE(...) \
  static const ::dsvl::bench::Registrar DSVL_BENCH_CONCAT(dsvl_bench_case_, __COUNTER__)(__VA_ARGS__)

#define DSVL_BENCH_REGISTER(body) \
  static const int DSVL_BENCH_CONCAT(dsvl_bench_reg_, __COUNTER__) = [] { body; return 0; }()

// Keeps the optimiser from removing a computation whose result is not used.
template <class T>
inline void do_not_optimize(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

struct Timing {
  double median_s = 0, min_s = 0, max_s = 0;
};

// Median over `samples` samples; each sample repeats the call until at least `min_sample_s`.
inline Timing time_call(const std::function<void()>& fn, int samples, double min_sample_s) {
  using clock = std::chrono::steady_clock;
  fn();  // warm-up: page faults, caches, thread start
  std::vector<double> per_call;
  for (int s = 0; s < samples; ++s) {
    std::int64_t reps = 0;
    const auto t0 = clock::now();
    double elapsed = 0;
    do {
      fn();
      ++reps;
      elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    } while (elapsed < min_sample_s);
    per_call.push_back(elapsed / static_cast<double>(reps));
  }
  std::sort(per_call.begin(), per_call.end());
  return {per_call[per_call.size() / 2], per_call.front(), per_call.back()};
}

}  // namespace dsvl::bench
