// Attention of a block of queries over blocks of keys with an online softmax (FlashAttention, Dao
// et al. 2022, Algorithm 1): for each block of kTileKeys keys, the scores of the block, the running
// row maxima m and sums l, and the output rows rescaled by exp(m_old - m_new) when a maximum grows;
// at the end each row is divided by its l. The scores never leave a kTileKeys x kTileQueries tile
// and the values are copied one block at a time, so a long sequence (4096 tokens, the size of
// SAM's global attention) works in L1/L2 instead of streaming a row of S scores per query and a
// transposed copy of every value head.
#if defined(DSVL_KERNELS_HWY_ATTENTION_TILED_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_ATTENTION_TILED_INL_H_
#undef DSVL_KERNELS_HWY_ATTENTION_TILED_INL_H_
#else
#define DSVL_KERNELS_HWY_ATTENTION_TILED_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <hwy/contrib/math/math-inl.h>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"
#include "dsvl/kernels/rel_pos.hpp"
#include "dsvl/kernels/softmax.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

inline constexpr std::int64_t kTileQueries = 48;
inline constexpr std::int64_t kTileKeys = 96;
inline constexpr std::int64_t kTileRows = 6;  // rows of C per register tile; divides both above

inline std::int64_t RoundUpToLanes(std::int64_t n) {
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(hn::ScalableTag<float>()));
  return (n + L - 1) / L * L;
}

// C (M, N) = A (M, K) B (K, N), or C += A B with Accumulate. A(i, k) is A[i * ars + k * acs] (any
// strides: its elements are broadcast one at a time); B and C are row-major with leading
// dimensions ldb and ldc. M is a multiple of kTileRows and N of the vector length. kTileRows rows
// of C by two vectors (12 accumulators, enough to cover the FMA latency on two FMA pipes) stay in
// registers while k runs.
template <bool Accumulate>
HWY_INLINE void TileMatMul(const float* A, std::int64_t ars, std::int64_t acs, const float* B, std::int64_t ldb,
                           float* C, std::int64_t ldc, std::int64_t M, std::int64_t N, std::int64_t K) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  constexpr int R = static_cast<int>(kTileRows);
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  for (std::int64_t i = 0; i < M; i += R) {
    const float* a = A + i * ars;
    float* c = C + i * ldc;
    std::int64_t j = 0;
    for (; j + 2 * L <= N; j += 2 * L) {
      V c0[R], c1[R];
      for (int r = 0; r < R; ++r) {
        c0[r] = Accumulate ? hn::LoadU(d, c + r * ldc + j) : hn::Zero(d);
        c1[r] = Accumulate ? hn::LoadU(d, c + r * ldc + j + L) : hn::Zero(d);
      }
      for (std::int64_t k = 0; k < K; ++k) {
        const V b0 = hn::LoadU(d, B + k * ldb + j), b1 = hn::LoadU(d, B + k * ldb + j + L);
        const float* ak = a + k * acs;
        for (int r = 0; r < R; ++r) {
          const V x = hn::Set(d, ak[r * ars]);
          c0[r] = hn::MulAdd(x, b0, c0[r]);
          c1[r] = hn::MulAdd(x, b1, c1[r]);
        }
      }
      for (int r = 0; r < R; ++r) {
        hn::StoreU(c0[r], d, c + r * ldc + j);
        hn::StoreU(c1[r], d, c + r * ldc + j + L);
      }
    }
    for (; j < N; j += L) {
      V c0[R];
      for (int r = 0; r < R; ++r) c0[r] = Accumulate ? hn::LoadU(d, c + r * ldc + j) : hn::Zero(d);
      for (std::int64_t k = 0; k < K; ++k) {
        const V b = hn::LoadU(d, B + k * ldb + j);
        const float* ak = a + k * acs;
        for (int r = 0; r < R; ++r) c0[r] = hn::MulAdd(hn::Set(d, ak[r * ars]), b, c0[r]);
      }
      for (int r = 0; r < R; ++r) hn::StoreU(c0[r], d, c + r * ldc + j);
    }
  }
}

// Floats of scratch AttentionTile needs (side: RelPos2d::side(), 0 without relative positions).
inline std::int64_t AttentionTileScratch(std::int64_t Dk, std::int64_t Dv, std::int64_t side = 0) {
  const std::int64_t Dvp = RoundUpToLanes(Dv);
  return Dk * kTileQueries + kTileKeys * Dk + kTileKeys * Dvp + kTileKeys * kTileQueries + kTileQueries * Dvp +
         3 * kTileQueries + 2 * side * kTileQueries;
}

// Query rows [t0, t1) (at most kTileQueries) of head h, as kernels::attention defines them:
// q (T, H, Dk), k (S, Hkv, Dk), v (S, Hkv, Dv) (k and v f32 or bf16), out (T, H, Dv). scratch
// holds AttentionTileScratch(Dk, Dv, rel ? rel->side() : 0) floats, aligned to the vector size.
//
// The scores of a block are computed transposed, sT (keys, queries) = K Qᵀ: f32 K's rows are read
// in place (only a last block that ends inside a register tile is copied), bf16 ones widened into
// a block buffer; Qᵀ is packed once per call, and the online softmax runs down the columns, one
// vector of queries at a time. With relative positions, each query's terms with every key row and
// key column are computed once per call, (side, Bq) each, and added to a block's scaled scores
// before its softmax.
template <class KV>
void AttentionTile(View<const float, 3> q, View<const KV, 3> k, View<const KV, 3> v, SoftmaxMask mask,
                   const RelPos2d* rel, float scale, View<float, 3> out, std::int64_t h, std::int64_t t0, std::int64_t t1,
                   float* scratch) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  constexpr std::int64_t Bq = kTileQueries, Bk = kTileKeys;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const std::int64_t Dk = q.shape(2), Dv = v.shape(2), S = k.shape(0), g = h / (q.shape(1) / k.shape(1));
  const std::int64_t Dvp = RoundUpToLanes(Dv), rows = t1 - t0;
  float* qt = scratch;           // (Dk, Bq): the block's queries, transposed, zero columns past t1
  float* kt = qt + Dk * Bq;      // (Bk, Dk): the last block of keys, zero-padded to kTileRows
  float* vs = kt + Bk * Dk;      // (Bk, Dvp): one block of values
  float* st = vs + Bk * Dvp;     // (Bk, Bq): scores, then probabilities, transposed
  float* o = st + Bk * Bq;       // (Bq, Dvp): unnormalised output rows
  float* m = o + Bq * Dvp;       // (Bq): running maxima of scale * score
  float* l = m + Bq;             // (Bq): running sums of exp
  float* rescale = l + Bq;       // (Bq)
  const std::int64_t side = rel ? rel->side() : 0;
  float* bh = rescale + Bq;      // (side, Bq): q_i · rel_h[th(i) - sh + side - 1] by key row sh
  float* bw = bh + side * Bq;    // (side, Bq): q_i · rel_w[tw(i) - sw + side - 1] by key column sw

  std::fill_n(qt, Dk * Bq, 0.0f);
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* qi = q.data() + (t0 + i) * q.stride(0) + h * q.stride(1);
    for (std::int64_t c = 0; c < Dk; ++c) qt[c * Bq + i] = qi[c];
  }
  if (side > 0) {
    std::fill_n(bh, 2 * side * Bq, 0.0f);
    for (std::int64_t i = 0; i < rows; ++i) {
      const float* qi = q.data() + (t0 + i) * q.stride(0) + h * q.stride(1);
      const std::int64_t th = (t0 + i) / side, tw = (t0 + i) % side;
      for (std::int64_t j = 0; j < side; ++j) {
        bh[j * Bq + i] = Dot(qi, &rel->rel_h(th - j + side - 1, 0), Dk);
        bw[j * Bq + i] = Dot(qi, &rel->rel_w(tw - j + side - 1, 0), Dk);
      }
    }
  }
  std::fill_n(o, Bq * Dvp, 0.0f);
  std::fill_n(m, Bq, kNegInf);
  std::fill_n(l, Bq, 0.0f);

  const auto seen = [&](std::int64_t i) { return dsvl::kernels::detail::softmax_row_length(t0 + i, S, mask); };
  const std::int64_t keys = seen(rows - 1);  // rows see nondecreasing prefixes of the keys
  const std::int64_t all_see = seen(0);      // keys every row sees
  // With relative positions the scores are scaled when the terms are added, so the softmax's scale is 1.
  const V sv = hn::Set(d, side > 0 ? 1.0f : scale), neg_inf = hn::Set(d, kNegInf);
  for (std::int64_t s0 = 0; s0 < keys; s0 += Bk) {
    const std::int64_t nk = std::min(Bk, keys - s0), M = (nk + kTileRows - 1) / kTileRows * kTileRows;
    const KV* kv = k.data() + s0 * k.stride(0) + g * k.stride(1);
    const float* kb = kt;
    std::int64_t ks = Dk;
    if constexpr (std::is_same_v<KV, float>) {
      if (s0 + M <= S) {  // in place, unless the view ends inside the last register tile
        kb = kv;
        ks = k.stride(0);
      }
    }
    if (kb == kt) {  // bf16 keys, or a last block: copied as f32, zero-padded
      std::fill(kt + nk * Dk, kt + M * Dk, 0.0f);
      for (std::int64_t j = 0; j < nk; ++j) CopyF32(kv + j * k.stride(0), Dk, kt + j * Dk);
    }
    for (std::int64_t j = 0; j < nk; ++j) {
      float* vr = vs + j * Dvp;
      CopyF32(v.data() + (s0 + j) * v.stride(0) + g * v.stride(1), Dv, vr);
      std::fill(vr + Dv, vr + Dvp, 0.0f);
    }

    TileMatMul<false>(kb, ks, 1, qt, Bq, st, Bq, M, Bq, Dk);
    if (side > 0) {
      const V scaled = hn::Set(d, scale);
      for (std::int64_t j = 0; j < nk; ++j) {
        const float* bhj = bh + (s0 + j) / side * Bq;
        const float* bwj = bw + (s0 + j) % side * Bq;
        float* sj = st + j * Bq;
        for (std::int64_t c = 0; c < Bq; c += L)
          hn::Store(hn::MulAdd(scaled, hn::Load(d, sj + c), hn::Add(hn::Load(d, bhj + c), hn::Load(d, bwj + c))), d,
                    sj + c);
      }
    }
    if (s0 + nk > all_see) {  // some rows do not see every key of the block
      for (std::int64_t i = 0; i < Bq; ++i) {
        const std::int64_t from = i < rows ? std::clamp<std::int64_t>(seen(i) - s0, 0, nk) : 0;
        for (std::int64_t j = from; j < nk; ++j) st[j * Bq + i] = kNegInf;
      }
    }
    for (std::int64_t c = 0; c < Bq; c += L) {
      V mx = neg_inf;
      for (std::int64_t j = 0; j < nk; ++j) mx = hn::Max(mx, hn::Mul(sv, hn::Load(d, st + j * Bq + c)));
      const V m_old = hn::Load(d, m + c), m_new = hn::Max(m_old, mx);
      // A column that has seen no key yet keeps m = -inf and scores of -inf: subtracting 0 there
      // gives exp(-inf) = 0 where -inf - (-inf) would give NaN.
      const V m_sub = hn::IfThenZeroElse(hn::Eq(m_new, neg_inf), m_new);
      V sum = hn::Zero(d);
      for (std::int64_t j = 0; j < nk; ++j) {
        const V e = hn::Exp(d, hn::MulSub(sv, hn::Load(d, st + j * Bq + c), m_sub));
        sum = hn::Add(sum, e);
        hn::Store(e, d, st + j * Bq + c);
      }
      const V r = hn::Exp(d, hn::Sub(m_old, m_sub));
      hn::Store(hn::MulAdd(hn::Load(d, l + c), r, sum), d, l + c);
      hn::Store(m_new, d, m + c);
      hn::Store(r, d, rescale + c);
    }
    for (std::int64_t i = 0; i < rows; ++i) {
      if (rescale[i] == 1.0f) continue;
      float* oi = o + i * Dvp;
      const V r = hn::Set(d, rescale[i]);
      for (std::int64_t c = 0; c < Dvp; c += L) hn::Store(hn::Mul(r, hn::Load(d, oi + c)), d, oi + c);
    }
    TileMatMul<true>(st, 1, Bq, vs, Dvp, o, Dvp, Bq, Dvp, nk);
  }

  for (std::int64_t i = 0; i < rows; ++i) {
    float* dst = out.data() + (t0 + i) * out.stride(0) + h * out.stride(1);
    const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
    for (std::int64_t c = 0; c < Dv; ++c) dst[c] = o[i * Dvp + c] * inv;
  }
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
