#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/threading.hpp"

using namespace dsvl;

TEST_CASE("parallel_for covers the range exactly once") {
  ThreadPool pool(3);
  for (std::int64_t n : {0, 1, 2, 5, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
    pool.parallel_for(0, n, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)]++;
    });
    for (auto& h : hits) CHECK(h.load() == 1);
  }
}

// Two threads really work at the same time: each chunk waits until every thread has arrived,
// which only finishes if the chunks run concurrently (a serial pool would time out).
TEST_CASE("two threads run chunks concurrently") {
  ThreadPool pool(2);
  std::atomic<int> arrived{0};
  std::set<std::thread::id> ids;
  std::mutex m;
  bool all_met = true;
  pool.parallel_for(0, 2, [&](std::int64_t, std::int64_t) {
    {
      std::lock_guard g(m);
      ids.insert(std::this_thread::get_id());
    }
    arrived++;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (arrived.load() < 2)
      if (std::chrono::steady_clock::now() > deadline) {
        all_met = false;
        break;
      }
  });
  CHECK(all_met);
  CHECK(ids.size() == 2);
}

TEST_CASE("the global pool uses every hardware thread") {
  const int n = ThreadPool::default_threads();
  CHECK(ThreadPool::global().size() == n);
  std::set<std::thread::id> ids;
  std::mutex m;
  std::atomic<int> arrived{0};
  ThreadPool::global().run([&](int) {
    {
      std::lock_guard g(m);
      ids.insert(std::this_thread::get_id());
    }
    arrived++;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (arrived.load() < n && std::chrono::steady_clock::now() < deadline) {
    }
  });
  CHECK(static_cast<int>(ids.size()) == n);
}

TEST_CASE("exceptions propagate to the caller; nested jobs run inline") {
  ThreadPool pool(2);
  CHECK_THROWS_WITH_AS(pool.run([](int t) {
    if (t == 1) throw std::runtime_error("worker failed");
  }),
                       "worker failed", std::runtime_error);
  std::atomic<int> inner{0};
  pool.run([&](int) { pool.parallel_for(0, 10, [&](std::int64_t b, std::int64_t e) { inner += int(e - b); }); });
  CHECK(inner.load() == 20);
  // the pool still works after an exception
  std::atomic<int> count{0};
  pool.run([&](int) { count++; });
  CHECK(count.load() == 2);
}

TEST_CASE("many short jobs back to back") {
  ThreadPool pool(2);
  std::atomic<std::int64_t> sum{0};
  for (int r = 0; r < 2000; ++r)
    pool.parallel_for(0, 64, [&](std::int64_t b, std::int64_t e) { sum += e - b; });
  CHECK(sum.load() == 2000 * 64);
}

TEST_CASE("DSVL_NUM_THREADS is a positive number, capped at the hardware threads") {
  const char* saved = std::getenv("DSVL_NUM_THREADS");
  const std::string restore = saved ? saved : "";
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (const char* bad : {"", "abc", "0", "-1", "2x", " 2", "99999999999999999999"}) {
    ::setenv("DSVL_NUM_THREADS", bad, 1);
    CHECK_THROWS_WITH_AS(ThreadPool::default_threads(), doctest::Contains("expected a positive number of threads"),
                         Error);
  }
  ::setenv("DSVL_NUM_THREADS", "1", 1);
  CHECK(ThreadPool::default_threads() == 1);
  ::setenv("DSVL_NUM_THREADS", "99999999999", 1);
  CHECK(ThreadPool::default_threads() == hardware);
  if (saved) ::setenv("DSVL_NUM_THREADS", restore.c_str(), 1);
  else ::unsetenv("DSVL_NUM_THREADS");
}
