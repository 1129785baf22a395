#pragma once
// Scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention with a boolean
// mask, per head), multi-head or grouped-query:
//   out[t, h, :] = sum_s p[t, s] v[s, g, :],   p[t, :] = softmax_s(scale * q[t, h, :] · k[s, g, :]),
//   g = h / (H / Hkv)   (each group of H / Hkv consecutive query heads reads one key/value head).
// q: (T, H, Dk) f32.  k: (S, Hkv, Dk) and v: (S, Hkv, Dv), both f32 or both bf16 (a KV cache in
// bf16, widened exactly as it is read).  out: (T, H, Dv) f32; it must not overlap q, k or v.
// Dv may differ from Dk (MLA: 192-dim keys and 128-dim values, or 576-dim latent keys whose first
// 512 dims are the values, spec.md 5.4).
// Every view has a contiguous last dimension and any strides on the others (a KV cache of
// max_positions rows passes its first S rows). H must be a multiple of Hkv.
// mask is the softmax mask (kernels/softmax.hpp), counted in keys:
//   - causal decoding: mask.causal_offset = S - T, the number of keys before query 0 (the cached
//     tokens), so query t sees keys [0, t + S - T]; a prefill has offset 0, a decode step T = 1
//     and offset S - 1;
//   - no mask (vision encoders): SoftmaxMask{} (causal_offset = -1);
//   - key padding: mask.valid = number of real keys.
// A query row that sees no key gets all zeros (PyTorch would give NaN).
// The overload taking a RelPos2d in place of the mask adds SAM's decomposed relative positions to
// the scores (below); it has no mask.
//
// This is the composite reference: per head, gemm for scores = q kᵀ, softmax with the mask and
// the scale, then gemm for out = p v (for one query, as in decoding, gemv for the scores and a sum
// of the rows of v weighted by p, which reads v as stored instead of transposing it), all with the
// policy's kernels, so a SIMD tag runs their SIMD versions. Queries are processed in blocks of
// kAttentionQueryBlock rows, and a causal block reads only the keys its last row can see. Work items (head, query block) are split over the pool's
// threads; each thread owns one scratch area (scores of a block and the transposed values of one
// key/value head), allocated once per call.
// The Highway tags run their own kernels instead (kernels/hwy/attention.hpp).

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "dsvl/core/threading.hpp"
#include "dsvl/kernels/check.hpp"
#include "dsvl/kernels/native.hpp"
#include "dsvl/kernels/gemm.hpp"
#include "dsvl/kernels/gemv.hpp"
#include "dsvl/kernels/rel_pos.hpp"
#include "dsvl/kernels/softmax.hpp"

namespace dsvl::kernels {

inline constexpr std::int64_t kAttentionQueryBlock = 32;

namespace detail {
template <class KV>
void check_attention(View<const float, 3> q, View<const KV, 3> k, View<const KV, 3> v, View<float, 3> out) {
  constexpr const char* where = "kernels::attention";
  check_rows_view(where, "q", q);
  check_rows_view(where, "k", k);
  check_rows_view(where, "v", v);
  check_rows_view(where, "out", out);
  DSVL_CHECK(k.shape(0) == v.shape(0) && k.shape(1) == v.shape(1), where, "k is (", k.shape(0), ", ", k.shape(1),
             ", ", k.shape(2), "), v is (", v.shape(0), ", ", v.shape(1), ", ", v.shape(2), ")");
  DSVL_CHECK(out.shape(0) == q.shape(0) && out.shape(1) == q.shape(1) && out.shape(2) == v.shape(2), where,
             "out is (", out.shape(0), ", ", out.shape(1), ", ", out.shape(2), "), expected (T, H, Dv) = (",
             q.shape(0), ", ", q.shape(1), ", ", v.shape(2), ")");
  DSVL_CHECK(k.shape(2) == q.shape(2), where, "q has head dim ", q.shape(2), ", k has ", k.shape(2));
  DSVL_CHECK(q.shape(2) > 0 || v.shape(2) == 0, where, "keys of head dim 0 with values of head dim ", v.shape(2));
  DSVL_CHECK(q.shape(1) == 0 || (k.shape(1) > 0 && q.shape(1) % k.shape(1) == 0), where, "H = ", q.shape(1),
             " query heads is not a multiple of Hkv = ", k.shape(1), " key/value heads");
}

// dst (cols, rows) = src (rows, cols)ᵀ as f32, src rows `ld` apart, in tiles of 16 rows so that
// both the reads and the writes touch whole cache lines.
template <class T>
void transpose_rows(const T* src, std::int64_t ld, std::int64_t rows, std::int64_t cols, float* dst) {
  constexpr std::int64_t kTile = 16;
  for (std::int64_t r0 = 0; r0 < rows; r0 += kTile) {
    const std::int64_t r1 = std::min(rows, r0 + kTile);
    for (std::int64_t c = 0; c < cols; ++c)
      for (std::int64_t r = r0; r < r1; ++r) dst[c * rows + r] = to_f32(src[r * ld + c]);
  }
}

inline void check_rel_pos(View<const float, 3> q, View<const float, 3> k, const RelPos2d& rel) {
  constexpr const char* where = "kernels::attention";
  check_rows_view(where, "rel_h", rel.rel_h);
  check_rows_view(where, "rel_w", rel.rel_w);
  const std::int64_t side = rel.side();
  DSVL_CHECK(rel.rel_h.shape(0) % 2 == 1 && rel.rel_w.shape(0) == rel.rel_h.shape(0), where, "rel_h has ",
             rel.rel_h.shape(0), " rows and rel_w ", rel.rel_w.shape(0), ", expected 2 side - 1 each");
  DSVL_CHECK(rel.rel_h.shape(1) == q.shape(2) && rel.rel_w.shape(1) == q.shape(2), where, "rel_h and rel_w have ",
             rel.rel_h.shape(1), " and ", rel.rel_w.shape(1), " columns, the queries head dim ", q.shape(2));
  DSVL_CHECK(q.shape(0) == side * side && k.shape(0) == side * side, where, "relative positions on a ", side, " x ",
             side, " grid need ", side * side, " queries and keys, got ", q.shape(0), " and ", k.shape(0));
}

// p[r, :] = scale p[r, :] + the relative-position terms of query t0 + r (RelPos2d), for n rows of
// p. ph, pw: (n, 2 side - 1), the rows' dot products with every row of rel_h and rel_w.
inline void add_rel_pos(float* p, std::int64_t ldp, const float* ph, const float* pw, std::int64_t n, std::int64_t t0,
                        std::int64_t side, float scale) {
  const std::int64_t E = 2 * side - 1;
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t t = t0 + r, th = t / side, tw = t % side;
    const float* phr = ph + r * E + th + side - 1;  // phr[-sh]
    const float* pwr = pw + r * E + tw + side - 1;  // pwr[-sw]
    float* row = p + r * ldp;
    for (std::int64_t sh = 0; sh < side; ++sh)
      for (std::int64_t sw = 0; sw < side; ++sw) row[sh * side + sw] = row[sh * side + sw] * scale + (phr[-sh] + pwr[-sw]);
  }
}

// Keys visible to query row r (0-based), as the softmax mask defines them.
inline std::int64_t attention_keys(std::int64_t r, std::int64_t S, SoftmaxMask mask) {
  return softmax_row_length(r, S, mask);
}
}  // namespace detail

// A tag whose kernels run on the host (every tag but cuda_tag), and the key/value storage types.
template <class Tag>
concept HostKernelTag = std::derived_from<Tag, scalar_tag>;
template <class KV>
concept AttentionKV = std::is_same_v<KV, float> || std::is_same_v<KV, bf16>;

namespace detail {
// Both overloads below: mask, or relative positions (rel non-null, no mask). The calls to gemm,
// gemv and softmax are unqualified: they find, through the tag (policy/tags.hpp), the backend's
// kernels even when its header comes after this one.
template <class Tag, class KV>
void attention_impl(Tag tag, View<const float, 3> q, View<const KV, 3> k, View<const KV, 3> v, SoftmaxMask mask,
                    const RelPos2d* rel, float scale, View<float, 3> out, ThreadPool& pool) {
  const std::int64_t T = q.shape(0), H = q.shape(1), Dh = q.shape(2), Dv = v.shape(2), S = k.shape(0);
  const std::int64_t side = rel ? rel->side() : 0, E = 2 * side - 1;
  if (T == 0 || H == 0 || Dv == 0) return;
  const std::int64_t group = H / k.shape(1);
  const std::int64_t tb = std::min(T, kAttentionQueryBlock);
  const std::int64_t blocks = (T + tb - 1) / tb;
  // Keys seen by the last query row: no row of any block reads beyond them.
  const std::int64_t s_max = attention_keys(T - 1, S, mask);
  const std::int64_t items = H * blocks;
  const std::int64_t threads = std::min<std::int64_t>(pool.size(), items);
  const std::int64_t per_thread = tb * s_max + Dv * s_max + (rel ? 2 * tb * E : 0);
  std::unique_ptr<float[]> scratch(new float[static_cast<std::size_t>(std::max<std::int64_t>(threads * per_thread, 1))]);

  pool.run([&](int thread) {
    if (thread >= threads) return;
    float* scores_buf = scratch.get() + thread * per_thread;
    float* vt = scores_buf + tb * s_max;  // (Dv, s_max): v of one key/value head, transposed
    float* ph = vt + Dv * s_max;          // (tb, E), (tb, E): the queries' terms with rel_h, rel_w
    float* pw = ph + tb * E;
    std::int64_t vt_head = -1;
    const std::int64_t i0 = items * thread / threads, i1 = items * (thread + 1) / threads;
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t h = item / blocks, t0 = (item % blocks) * tb, t1 = std::min(T, t0 + tb);
      const std::int64_t g = h / group;
      const std::int64_t keys = attention_keys(t1 - 1, S, mask);
      const View<const KV, 2> kg(k.data() + g * k.stride(1), {keys, Dh}, {k.stride(0), 1});
      const View<float, 2> p(scores_buf, {t1 - t0, keys}, {keys, 1});
      SoftmaxMask m = mask;
      if (m.causal_offset >= 0) m.causal_offset += t0;
      if (t1 - t0 == 1 && !rel) {  // one query (a decode step): p = K q, then out = sum_s p[s] v[s], v read as stored
        const View<const float, 1> qh(q.data() + t0 * q.stride(0) + h * q.stride(1), {Dh});
        gemv(tag, qh, kg, View<const float, 1>{}, p[0], pool);  // (keys)
        softmax(tag, p, scale, m);
        float* o = out.data() + t0 * out.stride(0) + h * out.stride(1);
        std::fill_n(o, Dv, 0.0f);
        const KV* vg = v.data() + g * v.stride(1);
        for (std::int64_t s = 0; s < keys; ++s) {
          const float a = p(0, s);
          const KV* row = vg + s * v.stride(0);
          for (std::int64_t d = 0; d < Dv; ++d) o[d] += a * to_f32(row[d]);
        }
        continue;
      }
      if (g != vt_head) {
        transpose_rows(v.data() + g * v.stride(1), v.stride(0), s_max, Dv, vt);
        vt_head = g;
      }
      const View<const float, 2> vtg(vt, {Dv, keys}, {s_max, 1});
      const View<const float, 2> qh(q.data() + t0 * q.stride(0) + h * q.stride(1), {t1 - t0, Dh}, {q.stride(0), 1});
      gemm(tag, qh, kg, View<const float, 1>{}, p, pool);  // (tb, keys)
      if (rel) {
        gemm(tag, qh, rel->rel_h, View<const float, 1>{}, View<float, 2>(ph, {t1 - t0, E}, {E, 1}), pool);
        gemm(tag, qh, rel->rel_w, View<const float, 1>{}, View<float, 2>(pw, {t1 - t0, E}, {E, 1}), pool);
        add_rel_pos(p.data(), keys, ph, pw, t1 - t0, t0, side, scale);
        softmax(tag, p, 1.0f, m);
      } else {
        softmax(tag, p, scale, m);
      }
      const View<float, 2> oh(out.data() + t0 * out.stride(0) + h * out.stride(1), {t1 - t0, Dv}, {out.stride(0), 1});
      gemm(tag, View<const float, 2>(p), vtg, View<const float, 1>{}, oh, pool);  // (tb, Dv)
    }
  });
}
}  // namespace detail

template <HostKernelTag Tag, AttentionKV KV>
void attention(Tag tag, View<const float, 3> q, View<const KV, 3> k, View<const KV, 3> v, SoftmaxMask mask,
               float scale, View<float, 3> out, ThreadPool& pool = ThreadPool::global()) {
  detail::check_attention(q, k, v, out);
  detail::attention_impl(tag, q, k, v, mask, nullptr, scale, out, pool);
}

// Attention with SAM's decomposed relative positions (RelPos2d) and no mask.
template <HostKernelTag Tag>
void attention(Tag tag, View<const float, 3> q, View<const float, 3> k, View<const float, 3> v, const RelPos2d& rel,
               float scale, View<float, 3> out, ThreadPool& pool = ThreadPool::global()) {
  detail::check_attention(q, k, v, out);
  detail::check_rel_pos(q, k, rel);
  detail::attention_impl(tag, q, k, v, SoftmaxMask{}, &rel, scale, out, pool);
}

}  // namespace dsvl::kernels
