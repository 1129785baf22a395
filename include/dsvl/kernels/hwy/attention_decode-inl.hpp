// One decode step of attention (a single query row) with Highway vectors. The composite path in
// kernels/attention.hpp walks the cache head by head, so each head reads Dh floats every H_kv * Dh:
// a strided walk over the whole cache per head. This kernel walks it four keys at a time instead:
// the scores of every head for those keys, then, after the softmax, the weighted sum of their
// values for every head, so the cache streams row after row, once per pass.
#if defined(DSVL_KERNELS_HWY_ATTENTION_DECODE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef DSVL_KERNELS_HWY_ATTENTION_DECODE_INL_H_
#undef DSVL_KERNELS_HWY_ATTENTION_DECODE_INL_H_
#else
#define DSVL_KERNELS_HWY_ATTENTION_DECODE_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "dsvl/core/view.hpp"
#include "dsvl/kernels/hwy/simd-inl.hpp"
#include "dsvl/kernels/hwy/softmax-inl.hpp"

HWY_BEFORE_NAMESPACE();
namespace dsvl::kernels::HWY_NAMESPACE {

// Query heads per register tile: 4 where there are 32 vector registers (4 x 4 accumulators, the
// 4 query rows and a key), 2 where there are 16.
inline constexpr int kDecodeHeadTile = HWY_MAX_BYTES >= 64 ? 4 : 2;

// Calls f(integral_constant<int, N>{}, i) at i = begin, begin + N, ... while a whole tile of N fits
// before end, then f(integral_constant<int, 1>{}, i) on each of the rest.
template <int N, class F>
HWY_INLINE void ForTiles(std::int64_t begin, std::int64_t end, const F& f) {
  std::int64_t i = begin;
  for (; i + N <= end; i += N) f(std::integral_constant<int, N>{}, i);
  for (; i < end; ++i) f(std::integral_constant<int, 1>{}, i);
}

// s[j * NH + i] = q[i] · k[j] over n values, for NH query rows of one key/value head and NK keys
// (f32 or bf16): NK x NH independent accumulators, so each loaded vector of a key serves NH heads
// and the multiply-adds do not wait on one another.
template <int NK, int NH, class KV>
HWY_INLINE void DotTile(const float* const* q, const KV* const* k, std::int64_t n, float* s) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  hn::Vec<decltype(d)> acc[NK][NH];
  for (int j = 0; j < NK; ++j)
    for (int i = 0; i < NH; ++i) acc[j][i] = hn::Zero(d);
  std::int64_t x = 0;
  for (; x + L <= n; x += L) {
    hn::Vec<decltype(d)> qv[NH];
    for (int i = 0; i < NH; ++i) qv[i] = hn::LoadU(d, q[i] + x);
    for (int j = 0; j < NK; ++j) {
      const auto kv = LoadF32(d, k[j] + x);
      for (int i = 0; i < NH; ++i) acc[j][i] = hn::MulAdd(qv[i], kv, acc[j][i]);
    }
  }
  for (int j = 0; j < NK; ++j)
    for (int i = 0; i < NH; ++i) {
      float sum = SumLanes(d, acc[j][i]);
      for (std::int64_t y = x; y < n; ++y) sum += q[i][y] * to_f32(k[j][y]);
      s[j * NH + i] = sum;
    }
}

// o[i][0, n) += sum_j p[i][j] v[j][0, n) for NH heads over R rows of values (f32 or bf16): each
// loaded vector of a value row serves NH heads.
template <int R, int NH, class KV>
HWY_INLINE void AddWeightedRows(const float* const* p, const KV* const* v, std::int64_t n, float* const* o) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  hn::Vec<decltype(d)> w[NH][R];
  for (int i = 0; i < NH; ++i)
    for (int j = 0; j < R; ++j) w[i][j] = hn::Set(d, p[i][j]);
  std::int64_t x = 0;
  for (; x + L <= n; x += L) {
    hn::Vec<decltype(d)> rows[R];
    for (int j = 0; j < R; ++j) rows[j] = LoadF32(d, v[j] + x);
    for (int i = 0; i < NH; ++i) {
      auto acc = hn::LoadU(d, o[i] + x);
      for (int j = 0; j < R; ++j) acc = hn::MulAdd(w[i][j], rows[j], acc);
      hn::StoreU(acc, d, o[i] + x);
    }
  }
  for (; x < n; ++x)
    for (int i = 0; i < NH; ++i)
      for (int j = 0; j < R; ++j) o[i][x] += p[i][j] * to_f32(v[j][x]);
}

// Query heads [h0, h1) of one decode step over keys [0, keys): q (1, H, Dk), k (S, Hkv, Dk),
// v (S, Hkv, Dv), out (1, H, Dv) as in kernels::attention (k and v f32 or bf16); scores holds
// (h1 - h0) * keys floats. Both passes run on register tiles of R keys x kDecodeHeadTile query
// heads of one key/value head (grouped-query attention, MLA's latent: many heads per key row);
// bf16 rows that several query heads share are widened once per key into a buffer.
template <class KV>
void AttentionDecode(View<const float, 3> q, View<const KV, 3> k, View<const KV, 3> v, std::int64_t keys, float scale,
                     View<float, 3> out, std::int64_t h0, std::int64_t h1, float* scores) {
  constexpr int R = 4, NH = kDecodeHeadTile;
  const std::int64_t Dk = q.shape(2), Dv = v.shape(2), group = q.shape(1) / k.shape(1);
  for (std::int64_t h = h0; h < h1; ++h) std::fill_n(out.data() + h * out.stride(1), Dv, 0.0f);
  if (keys == 0) return;
  const std::int64_t g0 = h0 / group, g1 = (h1 - 1) / group + 1;  // the key/value heads read
  const bool widen_once = !std::is_same_v<KV, float> && group > 1;
  thread_local std::vector<float> wide;
  if (widen_once) wide.resize(static_cast<std::size_t>(R * std::max(Dk, Dv)));

  // Calls tile(integral_constant<int, M>, h) on tiles of the heads of key/value head g in [h0, h1).
  const auto for_head_tiles = [&](std::int64_t g, const auto& tile) {
    ForTiles<NH>(std::max(h0, g * group), std::min(h1, (g + 1) * group), tile);
  };
  // Calls use(rows) with the N rows of key/value head g at keys s.. s + N of `cache`, as stored,
  // or widened to f32 when bf16 rows are shared by several heads.
  const auto with_rows = [&]<int N>(std::integral_constant<int, N>, View<const KV, 3> cache, std::int64_t s,
                                    std::int64_t g, const auto& use) {
    const std::int64_t n = cache.shape(2);
    const KV* stored[N];
    for (int j = 0; j < N; ++j) stored[j] = cache.data() + (s + j) * cache.stride(0) + g * cache.stride(1);
    if (!widen_once) return use(stored);
    const float* rows[N];
    for (int j = 0; j < N; ++j) {
      CopyF32(stored[j], n, wide.data() + j * n);
      rows[j] = wide.data() + j * n;
    }
    use(rows);
  };

  const auto score_keys = [&]<int N>(std::integral_constant<int, N> keys_n, std::int64_t s) {
    for (std::int64_t g = g0; g < g1; ++g)
      with_rows(keys_n, k, s, g, [&](const auto* const* rows) {
        for_head_tiles(g, [&]<int M>(std::integral_constant<int, M>, std::int64_t h) {
          const float* qs[M];
          float tile[N * M];
          for (int i = 0; i < M; ++i) qs[i] = q.data() + (h + i) * q.stride(1);
          DotTile<N, M>(qs, rows, Dk, tile);
          for (int j = 0; j < N; ++j)
            for (int i = 0; i < M; ++i) scores[(h + i - h0) * keys + s + j] = tile[j * M + i];
        });
      });
  };
  ForTiles<R>(0, keys, score_keys);
  for (std::int64_t h = h0; h < h1; ++h) SoftmaxRow(scores + (h - h0) * keys, keys, scale);

  const auto add_rows = [&]<int N>(std::integral_constant<int, N> keys_n, std::int64_t s) {
    for (std::int64_t g = g0; g < g1; ++g)
      with_rows(keys_n, v, s, g, [&](const auto* const* rows) {
        for_head_tiles(g, [&]<int M>(std::integral_constant<int, M>, std::int64_t h) {
          const float* p[M];
          float* o[M];
          for (int i = 0; i < M; ++i) {
            p[i] = scores + (h + i - h0) * keys + s;
            o[i] = out.data() + (h + i) * out.stride(1);
          }
          AddWeightedRows<N, M>(p, rows, Dv, o);
        });
      });
  };
  ForTiles<R>(0, keys, add_rows);
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
