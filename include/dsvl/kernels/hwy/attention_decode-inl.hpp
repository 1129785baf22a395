// One decode step of attention (a single query row) with Highway vectors. The composite path in
// kernels/attention.hpp walks the cache head by head, so each head reads Dh floats every H_kv * Dh:
// a strided walk over the whole cache per head. This kernel walks it key by key instead: the scores
// of every head for key s, then the weighted sum of the values four keys at a time for every head,
// so the cache streams row after row, once per step.
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

// o[0, n) += sum_j p[j] v[j][0, n) over R rows of values (f32 or bf16).
template <int R, class KV>
HWY_INLINE void AddWeightedRows(const float* p, const KV* const* v, std::int64_t n, float* o) {
  const hn::ScalableTag<float> d;
  const std::int64_t L = static_cast<std::int64_t>(hn::Lanes(d));
  hn::Vec<decltype(d)> w[R];
  for (int j = 0; j < R; ++j) w[j] = hn::Set(d, p[j]);
  std::int64_t i = 0;
  for (; i + L <= n; i += L) {
    auto acc = hn::LoadU(d, o + i);
    for (int j = 0; j < R; ++j) acc = hn::MulAdd(w[j], LoadF32(d, v[j] + i), acc);
    hn::StoreU(acc, d, o + i);
  }
  for (; i < n; ++i)
    for (int j = 0; j < R; ++j) o[i] += p[j] * to_f32(v[j][i]);
}

// Query heads [h0, h1) of one decode step over keys [0, keys): q (1, H, Dk), k (S, Hkv, Dk),
// v (S, Hkv, Dv), out (1, H, Dv) as in kernels::attention (k and v f32 or bf16); scores holds
// (h1 - h0) * keys floats. bf16 rows that several query heads share (grouped-query attention,
// MLA's latent) are widened once per key into a buffer rather than once per head.
template <class KV>
void AttentionDecode(View<const float, 3> q, View<const KV, 3> k, View<const KV, 3> v, std::int64_t keys, float scale,
                     View<float, 3> out, std::int64_t h0, std::int64_t h1, float* scores) {
  constexpr int R = 4;  // value rows added at once
  const std::int64_t Dk = q.shape(2), Dv = v.shape(2), group = q.shape(1) / k.shape(1);
  for (std::int64_t h = h0; h < h1; ++h) std::fill_n(out.data() + h * out.stride(1), Dv, 0.0f);
  if (keys == 0) return;
  const std::int64_t g0 = h0 / group, g1 = (h1 - 1) / group + 1;  // the key/value heads read
  const bool widen_once = !std::is_same_v<KV, float> && group > 1;
  thread_local std::vector<float> wide;
  if (widen_once) wide.resize(static_cast<std::size_t>((g1 - g0) * Dk + R * Dv));
  float* const wk = wide.data();                      // (g1 - g0, Dk): one key's rows
  float* const wv = widen_once ? wk + (g1 - g0) * Dk : nullptr;  // (R, Dv): values of one head

  for (std::int64_t s = 0; s < keys; ++s) {
    const KV* ks = k.data() + s * k.stride(0) + g0 * k.stride(1);
    const auto score = [&](const auto* row, std::int64_t ld) {  // row: head g0 of key s, heads ld apart
      for (std::int64_t h = h0; h < h1; ++h)
        scores[(h - h0) * keys + s] = Dot(q.data() + h * q.stride(1), row + (h / group - g0) * ld, Dk);
    };
    if (widen_once) {
      for (std::int64_t g = 0; g < g1 - g0; ++g) CopyF32(ks + g * k.stride(1), Dk, wk + g * Dk);
      score(wk, Dk);
    } else {
      score(ks, k.stride(1));
    }
  }
  for (std::int64_t h = h0; h < h1; ++h) SoftmaxRow(scores + (h - h0) * keys, keys, scale);

  // out_h += sum over keys s.. s + N of p[h, s] v[s, g] for the heads of each group g.
  const auto add_rows = [&]<int N>(std::integral_constant<int, N>, std::int64_t s) {
    for (std::int64_t g = g0; g < g1; ++g) {
      const KV* stored[N];
      for (int j = 0; j < N; ++j) stored[j] = v.data() + (s + j) * v.stride(0) + g * v.stride(1);
      const auto add = [&](const auto* const* rows) {
        for (std::int64_t h = std::max(h0, g * group); h < std::min(h1, (g + 1) * group); ++h)
          AddWeightedRows<N>(scores + (h - h0) * keys + s, rows, Dv, out.data() + h * out.stride(1));
      };
      if (widen_once) {
        const float* rows[N];
        for (int j = 0; j < N; ++j) {
          CopyF32(stored[j], Dv, wv + j * Dv);
          rows[j] = wv + j * Dv;
        }
        add(rows);
      } else {
        add(stored);
      }
    }
  };
  std::int64_t s = 0;
  for (; s + R <= keys; s += R) add_rows(std::integral_constant<int, R>{}, s);
  for (; s < keys; ++s) add_rows(std::integral_constant<int, 1>{}, s);
}

}  // namespace dsvl::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif
