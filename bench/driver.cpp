// The benchmark driver: times every registered kernel case at the shapes the models use.
//
//   dsvl-bench (or dsvl bench) [--summary] [--filter TEXT] [--threads 1,2] [--rounds N] [--samples N]
//              [--min-time SECONDS] [--markdown]
//
// Each round times every selected case (median of --samples samples); a figure is the median
// over rounds, and a ratio against a peer (OpenBLAS, oneDNN, ...) is the median of the per-round ratios,
// so both sides see the same minute of this shared machine.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench.hpp"
#include "driver.hpp"
#include "dsvl/dsvl.hpp"
#include "peaks.hpp"

using namespace dsvl;
using namespace dsvl::bench;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoi(item));
  return out;
}

struct Row {
  const Case* c;
  int threads;
  std::function<void()> fn;
  std::vector<double> times;  // per round
};

}  // namespace

int dsvl::bench::run(int argc, char** argv) {
  bool summary = false, markdown = false;
  std::string filter;
  std::vector<int> threads = {1, std::max(1, ThreadPool::default_threads())};
  int rounds = 3, samples = 5;
  double min_time = 0.02;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "dsvl-bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--summary") summary = true;
    else if (a == "--markdown") markdown = true;
    else if (a == "--filter") filter = next();
    else if (a == "--threads") threads = parse_list(next());
    else if (a == "--rounds") rounds = std::stoi(next());
    else if (a == "--samples") samples = std::stoi(next());
    else if (a == "--min-time") min_time = std::stod(next());
    else {
      std::cerr << "usage: dsvl-bench [--summary] [--filter TEXT] [--threads 1,2] [--rounds N] [--samples N]"
                   " [--min-time S] [--markdown]\n";
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  std::sort(threads.begin(), threads.end());
  threads.erase(std::unique(threads.begin(), threads.end()), threads.end());

  std::cout << "dsvl kernel benchmark\n\nNative kernels per policy:\n";
  kernels::print_native_matrix<scalar_tag, xsimd_tag<>, hwy_tag>(std::cout);

  std::map<int, std::unique_ptr<ThreadPool>> pools;
  // The peaks are measured again in every round, next to the cases they are compared with: the
  // read bandwidth of this shared machine moves by up to 2x within minutes.
  std::map<int, std::vector<double>> fma_peak, int8_peak, read_bw;  // per thread count, per round
  for (int t : threads) pools[t] = std::make_unique<ThreadPool>(t);
  auto measure_peaks = [&] {
    for (int t : threads) {
      fma_peak[t].push_back(measure_fma_peak(*pools[t]));
      int8_peak[t].push_back(measure_int8_peak(*pools[t]));
      read_bw[t].push_back(measure_read_bandwidth(*pools[t]));
    }
  };
  std::vector<Row> rows;
  for (const Case& c : registry()) {
    const std::string key = c.op + " " + c.impl + " " + c.dtype + " " + c.shape;
    if (summary && !c.summary) continue;
    if (!filter.empty() && key.find(filter) == std::string::npos) continue;
    for (int t : threads) {
      if (!c.threaded && t != 1) continue;
      rows.push_back({&c, t, c.setup(*pools[t]), {}});
    }
  }
  for (int r = 0; r < rounds; ++r) {
    measure_peaks();
    for (Row& row : rows) row.times.push_back(time_call(row.fn, samples, min_time).median_s);
  }
  if (rounds == 0) measure_peaks();
  std::cout << "\nMeasured peaks (median over rounds [min-max]):\n";
  for (int t : threads) {
    auto range = [](const std::vector<double>& v) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f [%.1f-%.1f]", median(v), *std::min_element(v.begin(), v.end()),
                    *std::max_element(v.begin(), v.end()));
      return std::string(buf);
    };
    const std::string int8 = kOpPerDotIter > 0 ? ", int8 dot " + range(int8_peak[t]) + " GOP/s" : "";
    std::printf("  %d thread%s: FP32 FMA %s GFLOP/s%s, DRAM read %s GB/s\n", t, t > 1 ? "s" : "",
                range(fma_peak[t]).c_str(), int8.c_str(), range(read_bw[t]).c_str());
  }

  auto find_peer = [&](const Row& row, const std::string& peer) -> const Row* {
    for (const Row& o : rows)
      if (o.threads == row.threads && o.c->op == row.c->op && o.c->shape == row.c->shape && o.c->impl == peer)
        return &o;
    return nullptr;
  };

  const char* sep = markdown ? " | " : "  ";
  std::cout << "\n";
  if (markdown) std::cout << "| ";
  std::printf("%-14s%s%-8s%s%-5s%s%-26s%s%3s%s%10s%s%19s%s%9s%s%8s%s%7s%s%s", "op", sep, "impl", sep, "dtype", sep,
              "shape", sep, "thr", sep, "median us", sep, "[min-max] us", sep, "GFLOP/s", sep, "GB/s", sep, "%peak",
              sep, "vs peer");
  std::cout << (markdown ? " |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|---|\n" : "\n");
  for (const Row& row : rows) {
    const Case& c = *row.c;
    const double t = median(row.times);
    const double lo = *std::min_element(row.times.begin(), row.times.end());
    const double hi = *std::max_element(row.times.begin(), row.times.end());
    const double gflops = c.flops / t * 1e-9, gbs = c.bytes / t * 1e-9;
    // Share of the peak measured in the same round, median over rounds.
    std::vector<double> shares;
    for (std::size_t r = 0; r < row.times.size(); ++r)
      shares.push_back(c.bound == Bound::compute ? 100 * c.flops / row.times[r] * 1e-9 / fma_peak[row.threads][r]
                                                 : 100 * c.bytes / row.times[r] * 1e-9 / read_bw[row.threads][r]);
    const double peak = median(shares);
    std::string ratio = "";
    for (const std::string& peer : c.peers)
      if (const Row* p = find_peer(row, peer)) {
        std::vector<double> rs;
        for (std::size_t i = 0; i < row.times.size(); ++i) rs.push_back(p->times[i] / row.times[i]);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%.2fx %s", ratio.empty() ? "" : ", ", median(rs), peer.c_str());
        ratio += buf;
      }
    char range[64];
    std::snprintf(range, sizeof range, "[%.1f-%.1f]", lo * 1e6, hi * 1e6);
    if (markdown) std::cout << "| ";
    std::printf("%-14s%s%-8s%s%-5s%s%-26s%s%3d%s%10.1f%s%19s%s%9.1f%s%8.1f%s%6.0f%%%s%s", c.op.c_str(), sep,
                c.impl.c_str(), sep, c.dtype.c_str(), sep, c.shape.c_str(), sep, row.threads, sep, t * 1e6, sep, range,
                sep, gflops, sep, gbs, sep, peak, sep, ratio.c_str());
    std::cout << (markdown ? " |\n" : "\n");
  }
  std::cout << "\n%peak: compute-bound ops against the FP32 FMA peak, memory-bound ops against the read bandwidth,\n"
               "both measured in the same round at the same thread count (median over rounds).\n"
               "Ratios > 1 mean dsvl is faster than the peer.\n";
  return 0;
}
