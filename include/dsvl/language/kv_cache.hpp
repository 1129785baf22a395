#pragma once
// KvCache: the keys and values of every attention layer for the tokens processed so far, so that
// a decode step attends to them without recomputing (transformers' DynamicCache, preallocated).
//
// Per layer, K is (max_positions, Hkv, Dk) and V (max_positions, Hkv, Dv), keys stored after
// RoPE; Dk = Dv = Dh for multi-head attention. MLA's latent cache (spec.md 5.4) is one key head of
// kv_lora_rank + qk_rope_head_dim values per token, [normalised latent | roped key], whose first
// kv_lora_rank values also serve as the value, so it has Dv = 0. size() tokens are
// valid; a forward pass over T new tokens writes rows [size(), size() + T) of every layer and
// then calls advance(T). truncate(n) forgets all but the first n tokens (the cache of a shared
// prefix stays valid, so a multi-turn chat only runs its new tokens); clear() forgets all.
//
// The elements are f32 (the reference: the official models keep K and V in the activation dtype)
// or bf16, which halves the memory and the bytes a decode step reads from it (keys and values are
// rounded to nearest once, when written; attention widens them exactly). with_layer(l, f) calls
// f(keys, values) with a layer's views of the element type: View<float, 3> or View<bf16, 3>.
// bytes() is the memory the cache holds: layers * max_positions * Hkv * (Dk + Dv) * element size.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"

namespace dsvl::language {

class KvCache {
 public:
  KvCache() = default;
  KvCache(std::int64_t layers, std::int64_t max_positions, std::int64_t kv_heads, std::int64_t key_dim,
          std::int64_t value_dim, DType dtype = DType::f32)
      : dtype_(dtype), kv_heads_(kv_heads), key_dim_(key_dim), value_dim_(value_dim), capacity_(max_positions) {
    DSVL_CHECK(layers >= 0 && max_positions >= 0 && kv_heads >= 0 && key_dim >= 0 && value_dim >= 0, "KvCache",
               "negative size (layers ", layers, ", max_positions ", max_positions, ", kv_heads ", kv_heads,
               ", key_dim ", key_dim, ", value_dim ", value_dim, ")");
    DSVL_CHECK(dtype == DType::f32 || dtype == DType::bf16, "KvCache", "the cache holds f32 or bf16, not ",
               dtype_name(dtype));
    for (std::int64_t l = 0; l < layers; ++l) {
      if (dtype == DType::f32) {
        k_.emplace_back(Tensor<float, 3>({max_positions, kv_heads, key_dim}));
        v_.emplace_back(Tensor<float, 3>({max_positions, kv_heads, value_dim}));
      } else {
        k16_.emplace_back(Tensor<bf16, 3>({max_positions, kv_heads, key_dim}));
        v16_.emplace_back(Tensor<bf16, 3>({max_positions, kv_heads, value_dim}));
      }
    }
  }

  DType dtype() const noexcept { return dtype_; }
  std::int64_t layers() const noexcept { return static_cast<std::int64_t>(k_.size() + k16_.size()); }
  std::int64_t kv_heads() const noexcept { return kv_heads_; }
  std::int64_t key_dim() const noexcept { return key_dim_; }
  std::int64_t value_dim() const noexcept { return value_dim_; }
  // Tokens cached (the position of the next token).
  std::int64_t size() const noexcept { return size_; }
  std::int64_t capacity() const noexcept { return capacity_; }
  std::int64_t remaining() const noexcept { return capacity_ - size_; }
  std::size_t bytes() const noexcept {
    return static_cast<std::size_t>(layers() * capacity_ * kv_heads_ * (key_dim_ + value_dim_)) * dtype_size(dtype_);
  }

  // Bytes per cached token over all layers.
  std::size_t bytes_per_token() const noexcept {
    return capacity_ > 0 ? bytes() / static_cast<std::size_t>(capacity_) : 0;
  }

  // f(keys, values) with all max_positions rows of a layer: (max_positions, Hkv, Dk) and
  // (max_positions, Hkv, Dv), View<float, 3> or View<bf16, 3> as dtype() says.
  template <class F>
  decltype(auto) with_layer(std::int64_t layer, F&& f) {
    const auto l = static_cast<std::size_t>(layer);
    if (dtype_ == DType::f32) return f(k_[l].view(), v_[l].view());
    return f(k16_[l].view(), v16_[l].view());
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
  std::vector<Tensor<bf16, 3>> k16_, v16_;
  DType dtype_ = DType::f32;
  std::int64_t kv_heads_ = 0, key_dim_ = 0, value_dim_ = 0;
  std::int64_t capacity_ = 0;
  std::int64_t size_ = 0;
};

// Writes rows (T, Hkv, D) of f32 into rows [first, first + T) of a cache layer's view, rounding
// to the cache's element type.
template <class KV>
void store_rows(View<const float, 3> rows, View<KV, 3> cache, std::int64_t first) {
  const std::int64_t T = rows.shape(0), H = rows.shape(1), D = rows.shape(2);
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h) {
      const float* src = &rows(t, h, 0);
      KV* dst = &cache(first + t, h, 0);
      for (std::int64_t d = 0; d < D; ++d) dst[d] = from_f32<KV>(src[d]);
    }
}

}  // namespace dsvl::language
