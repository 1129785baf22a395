#pragma once
// Attention for the Highway tags (contract and composite reference: kernels/attention.hpp): a
// decode step runs kernels/hwy/attention_decode-inl.hpp, which reads the cache key by key for all
// heads at once (threads split the heads), and more queries kernels/hwy/attention_tiled-inl.hpp,
// blocks of queries over blocks of keys with an online softmax (threads split the (head, query
// block) items).

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <vector>

#include <hwy/aligned_allocator.h>

#include "dsvl/core/threading.hpp"
#include "dsvl/kernels/attention.hpp"
#include "dsvl/kernels/hwy/attention_decode-inl.hpp"
#include "dsvl/kernels/hwy/attention_tiled-inl.hpp"
#include "dsvl/kernels/hwy/gemm.hpp"
#include "dsvl/kernels/hwy/gemv.hpp"
#include "dsvl/kernels/hwy/softmax.hpp"

namespace dsvl::kernels {

// hwy_tag and the tags derived from it (hwy_bf16_tag): more constrained than HostKernelTag, so
// these overloads win over the composite reference.
template <class Tag>
concept HwyKernelTag = HostKernelTag<Tag> && std::derived_from<Tag, hwy_tag>;

namespace detail {
template <class KV>
void attention_hwy(View<const float, 3> q, View<const KV, 3> k, View<const KV, 3> v, SoftmaxMask mask,
                   const RelPos2d* rel, float scale, View<float, 3> out, ThreadPool& pool) {
  namespace hw = HWY_NAMESPACE;
  const std::int64_t T = q.shape(0), H = q.shape(1), Dh = q.shape(2), Dv = v.shape(2), S = k.shape(0);
  const std::int64_t side = rel ? rel->side() : 0;
  if (T == 0 || H == 0 || Dv == 0) return;
  if (T == 1 && !rel) {
    const std::int64_t keys = attention_keys(0, S, mask);
    pool.parallel_for(0, H, [&](std::int64_t h0, std::int64_t h1) {
      thread_local std::vector<float> scores;
      scores.resize(static_cast<std::size_t>((h1 - h0) * keys));
      hw::AttentionDecode(q, k, v, keys, scale, out, h0, h1, scores.data());
    });
    return;
  }
  const std::int64_t blocks = (T + hw::kTileQueries - 1) / hw::kTileQueries;
  const std::int64_t per_thread = hw::AttentionTileScratch(Dh, Dv, side);
  pool.parallel_for(0, H * blocks, [&](std::int64_t i0, std::int64_t i1) {
    const auto scratch = hwy::AllocateAligned<float>(static_cast<std::size_t>(per_thread));
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t h = item / blocks, t0 = item % blocks * hw::kTileQueries;
      hw::AttentionTile(q, k, v, mask, rel, scale, out, h, t0, std::min(T, t0 + hw::kTileQueries), scratch.get());
    }
  });
}
}  // namespace detail

template <HwyKernelTag Tag, AttentionKV KV>
void attention(Tag, View<const float, 3> q, View<const KV, 3> k, View<const KV, 3> v, SoftmaxMask mask,
               float scale, View<float, 3> out, ThreadPool& pool = ThreadPool::global()) {
  detail::check_attention(q, k, v, out);
  detail::attention_hwy(q, k, v, mask, nullptr, scale, out, pool);
}

template <HwyKernelTag Tag>
void attention(Tag, View<const float, 3> q, View<const float, 3> k, View<const float, 3> v, const RelPos2d& rel,
               float scale, View<float, 3> out, ThreadPool& pool = ThreadPool::global()) {
  detail::check_attention(q, k, v, out);
  detail::check_rel_pos(q, k, rel);
  detail::attention_hwy(q, k, v, SoftmaxMask{}, &rel, scale, out, pool);
}

}  // namespace dsvl::kernels
