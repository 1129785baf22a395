#pragma once
// This machine's peaks, measured the way ../shared/perf measures them: FP32 FMA throughput with
// 12 independent accumulator chains in inline asm (intrinsics get merged by the compiler), int8
// dot-product throughput (AVX512-VNNI's vpdpbusd) the same way, and DRAM read bandwidth streaming
// a buffer much larger than the caches.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "bench.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"

namespace dsvl::bench {

// `iters` iterations of 12 independent chains `op r12, r13, ri` (i = 0..11) on the registers named
// r0..r13 (xmm, ymm or zmm), all zeroed first: op's throughput, with no instruction waiting on
// the one before it.
#define DSVL_PEAK_MOV(mov, r, i) mov " %%" r "0, %%" r #i "\n\t"
#define DSVL_PEAK_OP(op, r, i) op " %%" r "12, %%" r "13, %%" r #i "\n\t"
#define DSVL_PEAK_CHAINS(iters, zero, mov, op, r)                                                     \
  asm volatile(zero " %%xmm0, %%xmm0, %%xmm0\n\t"                                                       \
      DSVL_PEAK_MOV(mov, r, 1) DSVL_PEAK_MOV(mov, r, 2) DSVL_PEAK_MOV(mov, r, 3) DSVL_PEAK_MOV(mov, r, 4)   \
      DSVL_PEAK_MOV(mov, r, 5) DSVL_PEAK_MOV(mov, r, 6) DSVL_PEAK_MOV(mov, r, 7) DSVL_PEAK_MOV(mov, r, 8)   \
      DSVL_PEAK_MOV(mov, r, 9) DSVL_PEAK_MOV(mov, r, 10) DSVL_PEAK_MOV(mov, r, 11)                         \
      DSVL_PEAK_MOV(mov, r, 12) DSVL_PEAK_MOV(mov, r, 13)                                                  \
      "1:\n\t"                                                                                             \
      DSVL_PEAK_OP(op, r, 0) DSVL_PEAK_OP(op, r, 1) DSVL_PEAK_OP(op, r, 2) DSVL_PEAK_OP(op, r, 3)           \
      DSVL_PEAK_OP(op, r, 4) DSVL_PEAK_OP(op, r, 5) DSVL_PEAK_OP(op, r, 6) DSVL_PEAK_OP(op, r, 7)           \
      DSVL_PEAK_OP(op, r, 8) DSVL_PEAK_OP(op, r, 9) DSVL_PEAK_OP(op, r, 10) DSVL_PEAK_OP(op, r, 11)         \
      "dec %0\n\tjnz 1b\n\t"                                                                              \
      : "+r"(iters)                                                                                       \
      :                                                                                                   \
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",   \
        "xmm12", "xmm13", "cc")

// Runs `iters` iterations of 12 independent FMAs on the widest registers.
inline void fma_chains(std::int64_t iters) {
#if defined(__AVX512F__)
  DSVL_PEAK_CHAINS(iters, "vxorps", "vmovaps", "vfmadd231ps", "zmm");
#elif defined(__AVX2__) && defined(__FMA__)
  DSVL_PEAK_CHAINS(iters, "vxorps", "vmovaps", "vfmadd231ps", "ymm");
#else
  (void)iters;
#endif
}

inline constexpr double kFlopPerFmaIter =
#if defined(__AVX512F__)
    12 * 16 * 2;
#elif defined(__AVX2__) && defined(__FMA__)
    12 * 8 * 2;
#else
    0;
#endif

// G operations per second of `chains` (ops_per_iter operations per iteration) with every thread of
// `pool` running it; 0 where this build has no such path (ops_per_iter 0).
inline double measure_chains(ThreadPool& pool, double ops_per_iter, void (*chains)(std::int64_t)) {
  if (ops_per_iter == 0) return 0;
  constexpr std::int64_t iters = 20'000'000;
  auto t = time_call([&] { pool.run([&](int) { chains(iters); }); }, 5, 0.0);
  return ops_per_iter * static_cast<double>(iters) * pool.size() / t.median_s * 1e-9;
}

// FP32 FMA peak in GFLOP/s.
inline double measure_fma_peak(ThreadPool& pool) { return measure_chains(pool, kFlopPerFmaIter, fma_chains); }

// Runs `iters` iterations of 12 independent vpdpbusd on 512-bit registers (64 byte products added
// into 16 int32 lanes each).
inline void int8_dot_chains(std::int64_t iters) {
#if defined(__AVX512VNNI__)
  DSVL_PEAK_CHAINS(iters, "vpxord", "vmovdqa64", "vpdpbusd", "zmm");
#else
  (void)iters;
#endif
}

#undef DSVL_PEAK_CHAINS
#undef DSVL_PEAK_OP
#undef DSVL_PEAK_MOV

// Integer operations (a multiply and an add per byte product) per iteration of int8_dot_chains.
inline constexpr double kOpPerDotIter =
#if defined(__AVX512VNNI__)
    12 * 64 * 2;
#else
    0;
#endif

// int8 dot-product peak in GOP/s (0 without AVX512-VNNI): the ceiling of the int8 GEMM over
// quantized weights.
inline double measure_int8_peak(ThreadPool& pool) { return measure_chains(pool, kOpPerDotIter, int8_dot_chains); }

// DRAM read bandwidth in GB/s: every thread sums its share of a 512 MiB buffer.
inline double measure_read_bandwidth(ThreadPool& pool) {
  using B = xsimd::batch<float>;
  constexpr std::int64_t n = (512ll << 20) / 4;
  Tensor<float, 1> buf({n});
  pool.parallel_for(0, n, [&](std::int64_t b, std::int64_t e) {
    std::memset(buf.data() + b, 0, static_cast<std::size_t>(e - b) * 4);  // zeros: no denormal adds
  });
  std::vector<float> sink(static_cast<std::size_t>(pool.size()));
  auto fn = [&] {
    pool.run([&](int t) {
      const std::int64_t chunk = n / pool.size() / (4 * B::size) * (4 * B::size);
      const float* p = buf.data() + t * chunk;
      B a0(0.f), a1(0.f), a2(0.f), a3(0.f);
      for (std::int64_t i = 0; i < chunk; i += 4 * B::size) {
        a0 += B::load_aligned(p + i);
        a1 += B::load_aligned(p + i + B::size);
        a2 += B::load_aligned(p + i + 2 * B::size);
        a3 += B::load_aligned(p + i + 3 * B::size);
      }
      sink[static_cast<std::size_t>(t)] = xsimd::hadd(a0 + a1 + a2 + a3);
    });
  };
  auto t = time_call(fn, 5, 0.0);
  do_not_optimize(sink);
  return static_cast<double>(n) * 4 / t.median_s * 1e-9;
}

}  // namespace dsvl::bench
