#pragma once
// The packed, cache-blocked GEMM driver that the SIMD policies share (Goto / BLIS loop nest),
// c = a · wᵀ + bias with a (M, K), w (N, K), c (M, N):
//
//   each thread: a range of columns of c (or of rows, when N is narrow)
//   for jc in its columns by nc:
//     for pc in K by kc:         pack w[jc.., pc..] into f32 nr-column panels   (L2/L3)
//       for ic in its rows by mc: pack a[ic.., pc..] into mr-row panels                  (L2)
//                                 (once, kept for the next jc, when they fit)
//         for jr in nc by nr:    one w panel, kc x nr                                     (L1)
//           for ir in mc by mr:  Kernel::tile: an mr x nr tile of c held in registers
//
// Panels are k-major: for each k a panel holds mr values of a (the kernel broadcasts them) or nr
// values of w (the kernel loads them as vectors). Edge panels are zero-padded so the kernel always
// computes a full tile; an edge tile goes through a scratch tile and only its valid part is kept.
//
// A Kernel provides `static constexpr std::int64_t mr, nr` and
//   static void tile(std::int64_t kc, const float* ap, const float* wp, const float* bias,
//                    float* c, std::int64_t ldc, bool accumulate);
// setting c[i, j] = sum_k ap[k mr + i] wp[k nr + j] + (accumulate ? c[i, j] : bias ? bias[j] : 0)
// for the full mr x nr tile (wp is 64-byte aligned, c is not).
//
// A Kernel whose products take narrower operands packs its own panels (GemmPanels below): it
// declares `using panel_t` (the packed element), `kpack` (how many consecutive k values of one row
// or column one element holds: 2 for a pair of bf16 in 32 bits), `kc_block` (its k block) and
//   static void pack_a(const float* a, std::int64_t lda, std::int64_t m, std::int64_t kc, panel_t* dst);
//   static void pack_w(const WView& w, std::int64_t n0, std::int64_t n, std::int64_t k0, std::int64_t kc,
//                      panel_t* dst);
// laid out as above with kc / kpack elements (kc rounded up, zero-padded) in place of kc values;
// tile() gets that rounded kc, in k values.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/quant.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"

namespace dsvl::kernels::detail {

// Block sizes in elements: a kc x nr panel of w (32 KiB at nr = 32) stays in L1 while the mc x kc
// block of a (144 KiB) streams from L2; the kc x nc block of w (1 MiB) lives in L2/L3.
inline constexpr std::int64_t kGemmKc = 256;
inline constexpr std::int64_t kGemmMc = 144;
inline constexpr std::int64_t kGemmNc = 1024;
// The most bytes of packed a that one thread keeps across nc blocks (see gemm_packed_range).
inline constexpr std::int64_t kGemmKeepA = std::int64_t{8} << 20;

// Per-thread packing buffers, kept across calls (the pool's threads are long-lived).
enum class GemmScratch { a, w };
template <GemmScratch Which, class T>
T* gemm_scratch(std::size_t count) {
  thread_local std::unique_ptr<std::byte, dsvl::detail::AlignedFree> buf;
  thread_local std::size_t capacity = 0;
  const std::size_t bytes = count * sizeof(T);
  if (capacity < bytes) {
    buf.reset(static_cast<std::byte*>(dsvl::detail::aligned_alloc_bytes(bytes)));
    capacity = bytes;
  }
  return reinterpret_cast<T*>(buf.get());
}

// Eight rows of eight 32-bit elements (floats or bf16 pairs, as bits) transposed in registers:
// unpack pairs of rows, then pairs of pairs, then swap 128-bit halves (the AVX 8 x 8 transpose;
// GCC and Clang lower the generic vectors to the target's shuffles, SSE pairs included).
using Bits32x8 = std::uint32_t __attribute__((vector_size(32)));
inline void transpose8x8(Bits32x8 (&r)[8]) {
  Bits32x8 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
    t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
  }
  for (int i = 0; i < 8; i += 4)
    for (int h = 0; h < 2; ++h) {
      u[i + 2 * h] = __builtin_shufflevector(t[i + h], t[i + h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      u[i + 2 * h + 1] = __builtin_shufflevector(t[i + h], t[i + h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  for (int i = 0; i < 4; ++i) {
    r[i] = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    r[i + 4] = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

// dst[p][k][j] = w[p nr + j, k] for panels p of nr rows of w; rows past n are zero. Blocks of 8
// rows x 8 k are converted row by row (contiguous loads) and transposed in registers, reading 8
// rows at once (a row at a time leaves the source streams' latency exposed).
// The same with any 32-bit element type T that W converts to (to_f32 for float panels, a copy otherwise).
template <std::int64_t NR, class W, class T = float>
void pack_w_block(const W* w, std::int64_t ldw, std::int64_t n, std::int64_t kc, T* dst) {
  static_assert(sizeof(T) == 4, "panels hold 32-bit elements");
  constexpr std::int64_t G = 8;
  const auto cvt = [](W x) -> T {
    if constexpr (std::is_same_v<T, float>) return to_f32(x);
    else return x;
  };
  for (std::int64_t p0 = 0; p0 < n; p0 += NR, dst += NR * kc) {
    const std::int64_t rows = std::min(NR, n - p0);
    std::int64_t j = 0;
    for (; j + G <= rows; j += G) {
      const W* src = w + (p0 + j) * ldw;
      std::int64_t k = 0;
      for (; k + G <= kc; k += G) {
        Bits32x8 block[G];
        for (std::int64_t r = 0; r < G; ++r) {
          T row[G];
          for (std::int64_t i = 0; i < G; ++i) row[i] = cvt(src[r * ldw + k + i]);
          std::memcpy(&block[r], row, sizeof row);
        }
        transpose8x8(block);
        for (std::int64_t i = 0; i < G; ++i) std::memcpy(dst + (k + i) * NR + j, &block[i], sizeof block[i]);
      }
      for (; k < kc; ++k)
        for (std::int64_t r = 0; r < G; ++r) dst[k * NR + j + r] = cvt(src[r * ldw + k]);
    }
    for (; j < rows; ++j) {
      const W* src = w + (p0 + j) * ldw;
      for (std::int64_t k = 0; k < kc; ++k) dst[k * NR + j] = cvt(src[k]);
    }
    for (; j < NR; ++j)
      for (std::int64_t k = 0; k < kc; ++k) dst[k * NR + j] = T{};
  }
}

// dst[p][k][i] = a[p mr + i, k] for panels p of mr rows of a; rows past m are zero.
template <std::int64_t MR>
void pack_a_block(const float* a, std::int64_t lda, std::int64_t m, std::int64_t kc, float* dst) {
  pack_w_block<MR>(a, lda, m, kc, dst);
}

// Packs rows [n0, n0 + n) and columns [k0, k0 + kc) of w as pack_w_block does.
template <std::int64_t NR, class W>
void pack_w(View<const W, 2> w, std::int64_t n0, std::int64_t n, std::int64_t k0, std::int64_t kc, float* dst) {
  pack_w_block<NR>(w.data() + n0 * w.stride(0) + k0, w.stride(0), n, kc, dst);
}
// A quantized w: each panel's rows are dequantized into a float block first.
template <std::int64_t NR, QuantFormat F>
void pack_w(QuantView<F> w, std::int64_t n0, std::int64_t n, std::int64_t k0, std::int64_t kc, float* dst) {
  thread_local std::unique_ptr<float[]> rows;
  thread_local std::int64_t capacity = 0;
  if (capacity < NR * kc) {
    rows.reset(new float[static_cast<std::size_t>(NR * kc)]);
    capacity = NR * kc;
  }
  for (std::int64_t p0 = 0; p0 < n; p0 += NR, dst += NR * kc) {
    const std::int64_t m = std::min(NR, n - p0);
    for (std::int64_t j = 0; j < m; ++j) w.dequantize_row(n0 + p0 + j, k0, k0 + kc, rows.get() + j * kc);
    pack_w_block<NR>(rows.get(), kc, m, kc, dst);
  }
}

// How a Kernel packs its panels: its own pack_a / pack_w when it declares them, else f32 panels.
template <class Kernel>
struct GemmPanels {
  using panel_t = float;
  static constexpr std::int64_t kpack = 1, kc_block = kGemmKc;
  static void pack_a(const float* a, std::int64_t lda, std::int64_t m, std::int64_t kc, float* dst) {
    pack_a_block<Kernel::mr>(a, lda, m, kc, dst);
  }
  template <class WView>
  static void pack_w(const WView& w, std::int64_t n0, std::int64_t n, std::int64_t k0, std::int64_t kc, float* dst) {
    detail::pack_w<Kernel::nr>(w, n0, n, k0, kc, dst);
  }
};
template <class Kernel>
  requires requires { typename Kernel::panel_t; }
struct GemmPanels<Kernel> : Kernel {};

// The tile reads (accumulates into) or writes c only after its k loop: its rows, ldc apart, which
// the hardware prefetchers do not follow, are fetched while the products run. Without it the
// c loads of the accumulating k blocks took 13% of the int8 GEMM's samples (576x5632x2048, perf).
template <std::int64_t MR, std::int64_t NR>
inline void prefetch_tile(const float* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < MR; ++i) {
    for (std::int64_t j = 0; j < NR; j += 16) __builtin_prefetch(c + i * ldc + j, 1);
    __builtin_prefetch(c + i * ldc + NR - 1, 1);
  }
}

// One thread's share: rows [m0, m1) and columns [n0, n1) of c.
template <class Kernel, class WView>
void gemm_packed_range(View<const float, 2> a, const WView& w, const float* bias, View<float, 2> c,
                       std::int64_t m0, std::int64_t m1, std::int64_t n0, std::int64_t n1) {
  using Panels = GemmPanels<Kernel>;
  using P = typename Panels::panel_t;
  constexpr std::int64_t MR = Kernel::mr, NR = Kernel::nr, KP = Panels::kpack;
  constexpr std::int64_t MC = std::max<std::int64_t>(MR, kGemmMc / MR * MR);
  constexpr std::int64_t NC = std::max<std::int64_t>(NR, kGemmNc / NR * NR);
  const std::int64_t K = a.shape(1), lda = a.stride(0), ldc = c.stride(0);
  const std::int64_t k_blocks = (K + Panels::kc_block - 1) / Panels::kc_block;
  // Equal blocks (no thin last one), each a multiple of kpack but the last.
  const std::int64_t KC = ((K + k_blocks - 1) / k_blocks + KP - 1) / KP * KP;
  // When the thread's columns span several nc blocks, each block of a is packed once, for the
  // first, into a buffer of all of them, and reused for the others (as long as they fit).
  const std::int64_t a_block = KC / KP * MC, ic_blocks = (m1 - m0 + MC - 1) / MC;
  const bool keep_a = n1 - n0 > NC &&
                      k_blocks * ic_blocks * a_block * static_cast<std::int64_t>(sizeof(P)) <= kGemmKeepA;
  P* wp = gemm_scratch<GemmScratch::w, P>(static_cast<std::size_t>(KC / KP * NC));
  P* const a_blocks =
      gemm_scratch<GemmScratch::a, P>(static_cast<std::size_t>(a_block * (keep_a ? k_blocks * ic_blocks : 1)));
  alignas(64) float tmp[MR * NR];

  for (std::int64_t jc = n0; jc < n1; jc += NC) {
    const std::int64_t nc = std::min(NC, n1 - jc);
    for (std::int64_t pc = 0; pc < K; pc += KC) {
      const std::int64_t kc = std::min(KC, K - pc);
      const std::int64_t kcp = (kc + KP - 1) / KP * KP;  // the panels' k extent, zero-padded
      const bool accumulate = pc > 0;
      Panels::pack_w(w, jc, nc, pc, kc, wp);
      for (std::int64_t ic = m0; ic < m1; ic += MC) {
        const std::int64_t mc = std::min(MC, m1 - ic);
        P* const ap = keep_a ? a_blocks + (pc / KC * ic_blocks + (ic - m0) / MC) * a_block : a_blocks;
        if (!keep_a || jc == n0) Panels::pack_a(a.data() + ic * lda + pc, lda, mc, kc, ap);
        for (std::int64_t jr = 0; jr < nc; jr += NR) {
          const std::int64_t nr = std::min(NR, nc - jr);
          const P* wpanel = wp + jr * kcp / KP;
          const float* b = bias && !accumulate ? bias + jc + jr : nullptr;
          for (std::int64_t ir = 0; ir < mc; ir += MR) {
            const std::int64_t mr = std::min(MR, mc - ir);
            float* ct = c.data() + (ic + ir) * ldc + jc + jr;
            if (mr == MR && nr == NR) {
              prefetch_tile<MR, NR>(ct, ldc);
              Kernel::tile(kcp, ap + ir * kcp / KP, wpanel, b, ct, ldc, accumulate);
              continue;
            }
            Kernel::tile(kcp, ap + ir * kcp / KP, wpanel, nullptr, tmp, NR, false);
            for (std::int64_t i = 0; i < mr; ++i)
              for (std::int64_t j = 0; j < nr; ++j)
                ct[i * ldc + j] = tmp[i * NR + j] + (accumulate ? ct[i * ldc + j] : b ? b[j] : 0.0f);
          }
        }
      }
    }
  }
}

// Checks are the caller's (the policy's gemm); splits the work over the pool and runs it.
template <class Kernel, class WView>
void gemm_packed(View<const float, 2> a, const WView& w, View<const float, 1> bias, View<float, 2> c,
                 ThreadPool& pool) {
  constexpr std::int64_t MR = Kernel::mr, NR = Kernel::nr;
  const std::int64_t M = a.shape(0), N = w.shape(0), K = a.shape(1);
  const float* b = bias.empty() ? nullptr : bias.data();
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (std::int64_t m = 0; m < M; ++m)
      for (std::int64_t n = 0; n < N; ++n) c.data()[m * c.stride(0) + n] = b ? b[n] : 0.0f;
    return;
  }
  // Threads take whole nr-column panels when there are enough of them, else whole mr-row panels;
  // a product too small to repay waking a thread (under ~2^18 multiply-adds each) stays on one.
  const std::int64_t n_panels = (N + NR - 1) / NR, m_panels = (M + MR - 1) / MR;
  const std::int64_t work = M * N * K;
  const std::int64_t threads = std::clamp<std::int64_t>(work >> 18, 1, pool.size());
  const bool split_n = n_panels >= 2 * threads || n_panels >= m_panels;
  const std::int64_t units = split_n ? n_panels : m_panels;
  const std::int64_t chunks = std::min(threads, units);
  auto part = [&](std::int64_t t) {
    const std::int64_t u0 = units * t / chunks, u1 = units * (t + 1) / chunks;
    if (u0 == u1) return;
    if (split_n) gemm_packed_range<Kernel>(a, w, b, c, 0, M, u0 * NR, std::min(N, u1 * NR));
    else gemm_packed_range<Kernel>(a, w, b, c, u0 * MR, std::min(M, u1 * MR), 0, N);
  };
  if (chunks == 1) {
    part(0);
    return;
  }
  pool.run([&](int t) {
    if (t < chunks) part(t);
  });
}

}  // namespace dsvl::kernels::detail
