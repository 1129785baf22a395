#pragma once
// ThreadPool: a fixed set of workers that run one job at a time across all threads, the caller
// included. parallel_for splits an index range into one contiguous chunk per thread, which
// suits kernels whose work per index is uniform (rows of a GEMM, tokens of a norm).
//
// Waiting is a short spin followed by std::atomic::wait, so back-to-back kernels (decode) do not
// pay a futex wake-up each, and idle workers do not burn a core. A job started from inside a job
// runs serially on the calling thread.

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "dsvl/core/error.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define DSVL_CPU_RELAX() _mm_pause()
#else
#define DSVL_CPU_RELAX() ((void)0)
#endif

namespace dsvl {

class ThreadPool {
 public:
  // `n_threads` counts the calling thread; 0 means every hardware thread (or DSVL_NUM_THREADS).
  explicit ThreadPool(int n_threads = 0) {
    if (n_threads <= 0) n_threads = default_threads();
    n_threads_ = n_threads;
    workers_.reserve(static_cast<std::size_t>(n_threads - 1));
    for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int size() const noexcept { return n_threads_; }

  // Runs f(i) exactly once for every i in [0, size()), on up to size() threads at once, and
  // returns when all are done. Indices are claimed by whichever threads are awake, the caller
  // included, so a worker that the OS is slow to wake does not hold the call up. The first
  // exception thrown by any f(i) is rethrown here.
  template <class F>
  void run(F&& f) {
    if (n_threads_ == 1 || in_job_) {
      for (int i = 0; i < n_threads_; ++i) f(i);
      return;
    }
    std::lock_guard serial(submit_);
    job_ = [](void* ctx, int i) { (*static_cast<std::remove_reference_t<F>*>(ctx))(i); };
    ctx_ = static_cast<void*>(&f);
    error_ = nullptr;
    next_index_.store(0, std::memory_order_relaxed);
    const std::uint64_t g = generation_.load(std::memory_order_relaxed) + 1;
    open_.store(g, std::memory_order_seq_cst);
    generation_.store(g, std::memory_order_release);
    generation_.notify_all();
    claim_and_execute();
    // Close the job: a worker waking from now on finds it closed and never touches f. Workers
    // that joined before are waited for (they may still be running an index they claimed).
    open_.store(0, std::memory_order_seq_cst);
    for (int spin = 0;; ++spin) {
      const int a = active_.load(std::memory_order_seq_cst);
      if (a == 0) break;
      if (spin < kSpins) DSVL_CPU_RELAX();
      else active_.wait(a, std::memory_order_seq_cst);
    }
    if (error_) std::rethrow_exception(error_);
  }

  // Calls f(begin_i, end_i) on disjoint chunks covering [begin, end), at most one per thread,
  // each at least `grain` long (the last may be shorter).
  template <class F>
  void parallel_for(std::int64_t begin, std::int64_t end, F&& f, std::int64_t grain = 1) {
    const std::int64_t n = end - begin;
    if (n <= 0) return;
    grain = std::max<std::int64_t>(grain, 1);
    const std::int64_t chunks = std::min<std::int64_t>(n_threads_, (n + grain - 1) / grain);
    if (chunks <= 1) {
      f(begin, end);
      return;
    }
    run([&](int t) {
      if (t >= chunks) return;
      const std::int64_t b = begin + n * t / chunks, e = begin + n * (t + 1) / chunks;
      if (b < e) f(b, e);
    });
  }

  // The process-wide pool used when a kernel is not given one.
  static ThreadPool& global() {
    static ThreadPool pool;
    return pool;
  }

  // DSVL_NUM_THREADS when set: a positive decimal integer (anything else is an error naming it),
  // capped, with a warning on stderr, at the hardware threads, past which a spinning pool only
  // loses; else every hardware thread.
  static int default_threads() {
    const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const char* env = std::getenv("DSVL_NUM_THREADS");
    if (env == nullptr) return hardware;
    const std::string_view text = env;
    long long n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || n < 1)
      fail("DSVL_NUM_THREADS", "is '", text, "', expected a positive number of threads");
    if (n > hardware) {
      std::fprintf(stderr, "dsvl: DSVL_NUM_THREADS=%s exceeds the %d hardware threads; using %d\n", env, hardware,
                   hardware);
      return hardware;
    }
    return static_cast<int>(n);
  }

 private:
  static constexpr int kSpins = 1 << 14;

  void claim_and_execute() noexcept {
    for (int i; (i = next_index_.fetch_add(1, std::memory_order_relaxed)) < n_threads_;) {
      in_job_ = true;
      try {
        job_(ctx_, i);
      } catch (...) {
        std::lock_guard g(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      in_job_ = false;
    }
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t g = generation_.load(std::memory_order_acquire);
      for (int spin = 0; g == seen; ++spin) {
        if (spin < kSpins) DSVL_CPU_RELAX();
        else generation_.wait(seen, std::memory_order_acquire);
        g = generation_.load(std::memory_order_acquire);
      }
      seen = g;
      if (stop_.load(std::memory_order_relaxed)) return;
      // Join job g only while it is open; the caller closes it before waiting for active_ == 0,
      // and both sides use sequentially consistent order, so one of them sees the other.
      active_.fetch_add(1, std::memory_order_seq_cst);
      if (open_.load(std::memory_order_seq_cst) == g) claim_and_execute();
      if (active_.fetch_sub(1, std::memory_order_seq_cst) == 1) active_.notify_all();
    }
  }

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex submit_;
  void (*job_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  std::exception_ptr error_;
  std::mutex error_mutex_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> open_{0};  // the generation of the job workers may join, 0 if none
  std::atomic<int> next_index_{0};
  std::atomic<int> active_{0};          // workers inside a job
  std::atomic<bool> stop_{false};
  static inline thread_local bool in_job_ = false;
};

}  // namespace dsvl
