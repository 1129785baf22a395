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

// Runs `iters` iterations of 12 independent FMAs on the widest registers; returns FLOP done.
inline double fma_chains(std::int64_t iters) {
#if defined(__AVX512F__)
  asm volatile(
      "vxorps %%xmm0, %%xmm0, %%xmm0\n\t"
      "vmovaps %%zmm0, %%zmm1\n\tvmovaps %%zmm0, %%zmm2\n\tvmovaps %%zmm0, %%zmm3\n\t"
      "vmovaps %%zmm0, %%zmm4\n\tvmovaps %%zmm0, %%zmm5\n\tvmovaps %%zmm0, %%zmm6\n\t"
      "vmovaps %%zmm0, %%zmm7\n\tvmovaps %%zmm0, %%zmm8\n\tvmovaps %%zmm0, %%zmm9\n\t"
      "vmovaps %%zmm0, %%zmm10\n\tvmovaps %%zmm0, %%zmm11\n\tvmovaps %%zmm0, %%zmm12\n\tvmovaps %%zmm0, %%zmm13\n\t"
      "1:\n\t"
      "vfmadd231ps %%zmm12, %%zmm13, %%zmm0\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm1\n\t"
      "vfmadd231ps %%zmm12, %%zmm13, %%zmm2\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm3\n\t"
      "vfmadd231ps %%zmm12, %%zmm13, %%zmm4\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm5\n\t"
      "vfmadd231ps %%zmm12, %%zmm13, %%zmm6\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm7\n\t"
      "vfmadd231ps %%zmm12, %%zmm13, %%zmm8\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm9\n\t"
      "vfmadd231ps %%zmm12, %%zmm13, %%zmm10\n\tvfmadd231ps %%zmm12, %%zmm13, %%zmm11\n\t"
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "cc");
  return 0;
#elif defined(__AVX2__) && defined(__FMA__)
  asm volatile(
      "vxorps %%xmm0, %%xmm0, %%xmm0\n\t"
      "vmovaps %%ymm0, %%ymm1\n\tvmovaps %%ymm0, %%ymm2\n\tvmovaps %%ymm0, %%ymm3\n\t"
      "vmovaps %%ymm0, %%ymm4\n\tvmovaps %%ymm0, %%ymm5\n\tvmovaps %%ymm0, %%ymm6\n\t"
      "vmovaps %%ymm0, %%ymm7\n\tvmovaps %%ymm0, %%ymm8\n\tvmovaps %%ymm0, %%ymm9\n\t"
      "vmovaps %%ymm0, %%ymm10\n\tvmovaps %%ymm0, %%ymm11\n\tvmovaps %%ymm0, %%ymm12\n\tvmovaps %%ymm0, %%ymm13\n\t"
      "1:\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm0\n\tvfmadd231ps %%ymm12, %%ymm13, %%ymm1\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm2\n\tvfmadd231ps %%ymm12, %%ymm13, %%ymm3\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm4\n\tvfmadd231ps %%ymm12, %%ymm13, %%ymm5\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm6\n\tvfmadd231ps %%ymm12, %%ymm13, %%ymm7\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm8\n\tvfmadd231ps %%ymm12, %%ymm13, %%ymm9\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm10\n\tvfmadd231ps %%ymm12, %%ymm13, %%ymm11\n\t"
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "cc");
  return 0;
#else
  (void)iters;
  return 0;
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

// FP32 FMA peak in GFLOP/s with every thread of `pool` busy (0 if this build has no FMA path).
inline double measure_fma_peak(ThreadPool& pool) {
  if (kFlopPerFmaIter == 0) return 0;
  constexpr std::int64_t iters = 20'000'000;
  auto t = time_call([&] { pool.run([&](int) { fma_chains(iters); }); }, 5, 0.0);
  return kFlopPerFmaIter * iters * pool.size() / t.median_s * 1e-9;
}

// Runs `iters` iterations of 12 independent vpdpbusd on 512-bit registers (64 byte products added
// into 16 int32 lanes each).
inline void int8_dot_chains(std::int64_t iters) {
#if defined(__AVX512VNNI__)
  asm volatile(
      "vpxord %%xmm0, %%xmm0, %%xmm0\n\t"
      "vmovdqa64 %%zmm0, %%zmm1\n\tvmovdqa64 %%zmm0, %%zmm2\n\tvmovdqa64 %%zmm0, %%zmm3\n\t"
      "vmovdqa64 %%zmm0, %%zmm4\n\tvmovdqa64 %%zmm0, %%zmm5\n\tvmovdqa64 %%zmm0, %%zmm6\n\t"
      "vmovdqa64 %%zmm0, %%zmm7\n\tvmovdqa64 %%zmm0, %%zmm8\n\tvmovdqa64 %%zmm0, %%zmm9\n\t"
      "vmovdqa64 %%zmm0, %%zmm10\n\tvmovdqa64 %%zmm0, %%zmm11\n\tvmovdqa64 %%zmm0, %%zmm12\n\t"
      "vmovdqa64 %%zmm0, %%zmm13\n\t"
      "1:\n\t"
      "vpdpbusd %%zmm12, %%zmm13, %%zmm0\n\tvpdpbusd %%zmm12, %%zmm13, %%zmm1\n\t"
      "vpdpbusd %%zmm12, %%zmm13, %%zmm2\n\tvpdpbusd %%zmm12, %%zmm13, %%zmm3\n\t"
      "vpdpbusd %%zmm12, %%zmm13, %%zmm4\n\tvpdpbusd %%zmm12, %%zmm13, %%zmm5\n\t"
      "vpdpbusd %%zmm12, %%zmm13, %%zmm6\n\tvpdpbusd %%zmm12, %%zmm13, %%zmm7\n\t"
      "vpdpbusd %%zmm12, %%zmm13, %%zmm8\n\tvpdpbusd %%zmm12, %%zmm13, %%zmm9\n\t"
      "vpdpbusd %%zmm12, %%zmm13, %%zmm10\n\tvpdpbusd %%zmm12, %%zmm13, %%zmm11\n\t"
      "dec %0\n\tjnz 1b\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "cc");
#else
  (void)iters;
#endif
}

// Integer operations (a multiply and an add per byte product) per iteration of int8_dot_chains.
inline constexpr double kOpPerDotIter =
#if defined(__AVX512VNNI__)
    12 * 64 * 2;
#else
    0;
#endif

// int8 dot-product peak in GOP/s with every thread of `pool` busy (0 without AVX512-VNNI): the
// ceiling of the int8 GEMM over quantized weights.
inline double measure_int8_peak(ThreadPool& pool) {
  if (kOpPerDotIter == 0) return 0;
  constexpr std::int64_t iters = 20'000'000;
  auto t = time_call([&] { pool.run([&](int) { int8_dot_chains(iters); }); }, 5, 0.0);
  return kOpPerDotIter * iters * pool.size() / t.median_s * 1e-9;
}

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
