#pragma once
// Model weights, declared once per block by their official checkpoint names.
//
// A block lists its weights in one member template, and every walk over a model (loading from a
// checkpoint, counting parameters, random initialisation, listing names, saving) is a visitor of
// that one declaration; there is never a second table of names:
//
//   template <class V> void visit(V& v) {
//     v.weight("q_proj.weight", q_proj, {cfg.hidden_size, cfg.hidden_size});  // (out, in)
//     v.child("mlp", mlp);                                                      // "mlp." + ...
//     v.layers("layers", layers);                                               // "layers.<i>."
//   }
//
// A Weight holds the policy's storage type W. Loading borrows the memory-mapped checkpoint when
// the file already stores W (zero copy) and converts once otherwise (bf16 or f16 to f32, f32 to
// bf16 with round-to-nearest-even). The loader checks every declared shape and, at the end,
// reports together every missing tensor, every tensor whose shape or dtype is wrong, every
// tensor holding a NaN or an infinity (the first, by index) and every tensor of the checkpoint
// that no block declared.
//
// A matrix of a quantized format F (core/quant.hpp) is a Weight<F, 2>: loading quantizes it from
// the checkpoint's float tensor, so the official checkpoints load unchanged. WeightSaver writes it
// as stored, in two tensors (a quantized checkpoint, which later loads borrow in place):
//   "<name>"         U8  (N, row_bytes<F>(K)): the codes, rows as in QuantView;
//   "<name>.scales"  F16 (N, groups<F>(K)):    the group scales.
//
// A block that keeps a load-time transform of its weights (MLA's split of kv_b_proj) defines
// derive_weights(); the walks that bind data (WeightLoader with bind, WeightRandomInit) call it
// right after the block's own weights are bound. It must tolerate weights left empty by a failed
// load, which finish() then reports.
//
// This header is the declaration side: Weight, the visitor base, and the walks that need no
// checkpoint (WeightNames, WeightCount, WeightRandomInit). The walks that read or write a
// checkpoint (WeightLoader, load_weights, WeightSaver, RandomWeightSaver) are in io/checkpoint.hpp,
// which comes with io/safetensors.hpp: a block declares `load(const io::Checkpoint&)` with the
// declarations below, and whoever holds a Checkpoint has the loader. So a block header costs
// neither the safetensors reader nor the JSON library.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/quant.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/view.hpp"

namespace dsvl::io {
class Checkpoint;  // io/safetensors.hpp
class SafeTensorsWriter;
}  // namespace dsvl::io

namespace dsvl::nn {

template <class W, std::size_t Rank>
class Weight {
 public:
  using value_type = W;
  static constexpr std::size_t rank = Rank;

  View<const W, Rank> view() const noexcept { return view_; }
  operator View<const W, Rank>() const noexcept { return view_; }  // NOLINT: implicit by design
  std::int64_t shape(std::size_t i) const noexcept { return view_.shape(i); }
  std::int64_t size() const noexcept { return view_.size(); }
  // True when the data lives in a checkpoint's mapping (which must outlive the weight) rather
  // than in an owned tensor.
  bool borrowed() const noexcept { return borrowed_; }

  void borrow(View<const W, Rank> v) noexcept {
    owned_ = Tensor<W, Rank>();
    view_ = v;
    borrowed_ = true;
  }
  void own(Tensor<W, Rank> t) noexcept {
    owned_ = std::move(t);
    view_ = std::as_const(owned_).view();
    borrowed_ = false;
  }
  // Writable storage of the given shape, owned (for initialisation and load-time fix-ups).
  View<W, Rank> allocate(const typename View<W, Rank>::Shape& shape) {
    own(Tensor<W, Rank>(shape));
    return owned_.view();
  }

 private:
  Tensor<W, Rank> owned_;
  View<const W, Rank> view_;
  bool borrowed_ = false;
};

// A quantized matrix (N, K): the view is a QuantView, quantized from floats when bound.
template <QuantFormat F>
class Weight<F, 2> {
 public:
  using value_type = F;
  static constexpr std::size_t rank = 2;

  QuantView<F> view() const noexcept { return view_; }
  operator QuantView<F>() const noexcept { return view_; }  // NOLINT: implicit by design
  std::int64_t shape(std::size_t i) const noexcept { return view_.shape(i); }
  std::int64_t size() const noexcept { return view_.size(); }
  bool borrowed() const noexcept { return borrowed_; }

  void borrow(QuantView<F> v) noexcept {
    matrix_ = QuantMatrix<F>();
    view_ = v;
    borrowed_ = true;
  }
  void own(QuantMatrix<F> m) noexcept {
    matrix_ = std::move(m);
    view_ = matrix_.view();
    borrowed_ = false;
  }
  // Quantizes the (rows, cols) matrix that row(n, out) writes row by row (QuantMatrix::from_rows;
  // with a pool, the rows in parallel).
  template <class RowFn, class... Pool>
  void quantize(std::int64_t rows, std::int64_t cols, RowFn&& row, Pool&... pool) {
    own(QuantMatrix<F>::from_rows(rows, cols, std::forward<RowFn>(row), pool...));
  }

 private:
  QuantMatrix<F> matrix_;
  QuantView<F> view_;
  bool borrowed_ = false;
};

// The dtype a random-weight checkpoint stores a weight of storage type W in (quantized formats:
// bf16, as the official checkpoints).
template <class W>
constexpr DType checkpoint_dtype() noexcept {
  if constexpr (is_quant_format_v<W>) return DType::bf16;
  else return dtype_of<W>();
}

// ---- the visitors --------------------------------------------------------------------------

// The common part: the current name prefix and the walk over children and layer stacks.
template <class Derived>
class WeightVisitor {
 public:
  template <class Block>
  void child(std::string_view name, Block& block) {
    const std::size_t keep = prefix_.size();
    prefix_.append(name).push_back('.');
    walk(block);
    prefix_.resize(keep);
  }
  // Visits `block` at the current prefix (the top of a walk, or a child).
  template <class Block>
  void walk(Block& block) {
    Derived& self = static_cast<Derived&>(*this);
    block.visit(self);
    if constexpr (requires { block.derive_weights(); })
      if (self.binds_data()) block.derive_weights();
  }
  // Whether the walk gives the weights their data (see derive_weights above).
  bool binds_data() const noexcept { return false; }
  // Blocks stored in a sequence, named "<name>.0.", "<name>.1.", ...
  template <class Blocks>
  void layers(std::string_view name, Blocks& blocks) {
    std::size_t i = 0;
    for (auto& b : blocks) child(std::string(name) + "." + std::to_string(i++), b);
  }
  const std::string& prefix() const noexcept { return prefix_; }

 protected:
  std::string full_name(std::string_view name) const { return prefix_ + std::string(name); }
  std::string prefix_;
};

// The declared names with their shapes, in declaration order.
class WeightNames : public WeightVisitor<WeightNames> {
 public:
  struct Entry {
    std::string name;
    std::vector<std::int64_t> shape;
  };
  template <class W, std::size_t R>
  void weight(std::string_view name, Weight<W, R>&, const std::array<std::int64_t, R>& shape) {
    entries.push_back({full_name(name), {shape.begin(), shape.end()}});
  }
  // Tensors a checkpoint holds that the model reads nothing from (e.g. an unused pooling head).
  void unused(std::string_view) {}
  std::vector<Entry> entries;
};

// The number of parameters.
class WeightCount : public WeightVisitor<WeightCount> {
 public:
  template <class W, std::size_t R>
  void weight(std::string_view, Weight<W, R>&, const std::array<std::int64_t, R>& shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    count += n;
  }
  void unused(std::string_view) {}
  std::int64_t count = 0;
};

namespace detail {
// Seeded uniform values in [-scale, scale): scale 1/sqrt(fan_in) (the last dimension) for rank >= 2,
// and 1 + U(-0.1, 0.1) for vectors such as norm weights.
template <class W>
void fill_random(std::span<W> out, std::size_t rank, std::int64_t fan_in, std::mt19937_64& rng) {
  const float scale = rank >= 2 ? 1.0f / std::sqrt(static_cast<float>(fan_in)) : 0.1f;
  const float base = rank >= 2 ? 0.0f : 1.0f;
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (auto& x : out) x = from_f32<W>(base + dist(rng));
}
}  // namespace detail

// Random weights of the declared shapes (detail::fill_random), for models of the real shapes
// without a checkpoint.
class WeightRandomInit : public WeightVisitor<WeightRandomInit> {
 public:
  explicit WeightRandomInit(std::uint64_t seed) : rng_(seed) {}
  bool binds_data() const noexcept { return true; }
  template <class W, std::size_t R>
  void weight(std::string_view, Weight<W, R>& w, const std::array<std::int64_t, R>& shape) {
    if constexpr (is_quant_format_v<W>) {
      w.quantize(shape[0], shape[1], [&](std::int64_t, float* row) {
        detail::fill_random(std::span<float>(row, static_cast<std::size_t>(shape[1])), R, shape[1], rng_);
      });
    } else {
      typename View<W, R>::Shape s{};
      for (std::size_t i = 0; i < R; ++i) s[i] = shape[i];
      View<W, R> v = w.allocate(s);
      detail::fill_random(std::span<W>(v.data(), static_cast<std::size_t>(v.size())), R, shape[R - 1], rng_);
    }
  }
  void unused(std::string_view) {}

 private:
  std::mt19937_64 rng_;
};

// Binds every weight that `block` declares to the tensor "<prefix><name>" of `ckpt`, then reports
// in one dsvl::Error every missing, misshapen or wrongly typed tensor and every tensor under
// `prefix` that is not declared. Defined in io/checkpoint.hpp (included by io/safetensors.hpp).
template <class Block>
void load_weights(Block& block, const io::Checkpoint& ckpt, const std::string& prefix = {});

}  // namespace dsvl::nn
