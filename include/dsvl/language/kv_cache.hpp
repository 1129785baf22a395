#pragma once
// KvCache: the keys and values of every attention layer for the tokens processed so far, so that
// a decode step attends to them without recomputing (transformers' DynamicCache, preallocated).
//
// Per layer, K is (max_positions, Hkv, Dk) and V (max_positions, Hkv, Dv) f32, keys stored after
// RoPE; Dk = Dv = Dh for multi-head attention. MLA's latent cache (spec.md 5.4) is one key head of
// kv_lora_rank + qk_rope_head_dim values per token, [normalised latent | roped key], whose first
// kv_lora_rank values also serve as the value, so it has Dv = 0. size() tokens are
// valid; a forward pass over T new tokens writes rows [size(), size() + T) of every layer and
// then calls advance(T). truncate(n) forgets all but the first n tokens (the cache of a shared
// prefix stays valid, so a multi-turn chat only runs its new tokens); clear() forgets all.
// bytes() is the memory the cache holds: layers * max_positions * Hkv * (Dk + Dv) * 4.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"

namespace dsvl::language {

class KvCache {
 public:
  KvCache() = default;
  KvCache(std::int64_t layers, std::int64_t max_positions, std::int64_t kv_heads, std::int64_t head_dim)
      : KvCache(layers, max_positions, kv_heads, head_dim, head_dim) {}
  KvCache(std::int64_t layers, std::int64_t max_positions, std::int64_t kv_heads, std::int64_t key_dim,
          std::int64_t value_dim) {
    DSVL_CHECK(layers >= 0 && max_positions >= 0 && kv_heads >= 0 && key_dim >= 0 && value_dim >= 0, "KvCache",
               "negative size (layers ", layers, ", max_positions ", max_positions, ", kv_heads ", kv_heads,
               ", key_dim ", key_dim, ", value_dim ", value_dim, ")");
    k_.reserve(static_cast<std::size_t>(layers));
    v_.reserve(static_cast<std::size_t>(layers));
    for (std::int64_t l = 0; l < layers; ++l) {
      k_.emplace_back(Tensor<float, 3>({max_positions, kv_heads, key_dim}));
      v_.emplace_back(Tensor<float, 3>({max_positions, kv_heads, value_dim}));
    }
    capacity_ = max_positions;
  }

  std::int64_t layers() const noexcept { return static_cast<std::int64_t>(k_.size()); }
  // Tokens cached (the position of the next token).
  std::int64_t size() const noexcept { return size_; }
  std::int64_t capacity() const noexcept { return capacity_; }
  std::int64_t remaining() const noexcept { return capacity_ - size_; }
  std::size_t bytes() const noexcept {
    std::size_t n = 0;
    for (std::size_t l = 0; l < k_.size(); ++l)
      n += sizeof(float) * static_cast<std::size_t>(k_[l].size() + v_[l].size());
    return n;
  }

  // Bytes per cached token over all layers.
  std::size_t bytes_per_token() const noexcept {
    return capacity_ > 0 ? bytes() / static_cast<std::size_t>(capacity_) : 0;
  }

  // All max_positions rows of a layer: (max_positions, Hkv, Dk) and (max_positions, Hkv, Dv).
  View<float, 3> keys(std::int64_t layer) noexcept { return k_[static_cast<std::size_t>(layer)].view(); }
  View<float, 3> values(std::int64_t layer) noexcept { return v_[static_cast<std::size_t>(layer)].view(); }
  View<const float, 3> keys(std::int64_t layer) const noexcept { return k_[static_cast<std::size_t>(layer)].view(); }
  View<const float, 3> values(std::int64_t layer) const noexcept {
    return v_[static_cast<std::size_t>(layer)].view();
  }

  // Marks `n` more rows (already written in every layer) as valid.
  void advance(std::int64_t n) {
    DSVL_CHECK(n >= 0 && n <= remaining(), "KvCache::advance", "cannot add ", n, " tokens to ", size_,
               " of ", capacity_);
    size_ += n;
  }
  // Keeps the first n tokens.
  void truncate(std::int64_t n) {
    DSVL_CHECK(n >= 0 && n <= size_, "KvCache::truncate", "cannot keep ", n, " of ", size_, " tokens");
    size_ = n;
  }
  void clear() noexcept { size_ = 0; }

 private:
  std::vector<Tensor<float, 3>> k_, v_;
  std::int64_t capacity_ = 0;
  std::int64_t size_ = 0;
};

}  // namespace dsvl::language
