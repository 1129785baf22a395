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
// reports together every missing tensor, every tensor whose shape or dtype is wrong and every
// tensor of the checkpoint that no block declared.
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

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
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
#include "dsvl/io/safetensors.hpp"

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

// Declares every weight, with random values (detail::fill_random, seeded per tensor by `seed` and
// its name), in a SafeTensorsWriter as deferred tensors: writing a checkpoint of the real sizes
// needs memory for one tensor at a time. Each tensor has the dtype the model stores it in.
class RandomWeightSaver : public WeightVisitor<RandomWeightSaver> {
 public:
  RandomWeightSaver(io::SafeTensorsWriter& out, std::uint64_t seed) : out_(&out), seed_(seed) {}
  template <class W, std::size_t R>
  void weight(std::string_view name, Weight<W, R>&, const std::array<std::int64_t, R>& shape) {
    const std::string full = full_name(name);
    const std::uint64_t seed = seed_ ^ std::hash<std::string>{}(full);
    const std::int64_t fan_in = shape[R - 1];
    using S = std::conditional_t<is_quant_format_v<W>, bf16, W>;
    out_->add_deferred(full, checkpoint_dtype<W>(), {shape.begin(), shape.end()}, [seed, fan_in](std::span<std::byte> bytes) {
      std::mt19937_64 rng(seed);
      detail::fill_random(std::span<S>(reinterpret_cast<S*>(bytes.data()), bytes.size() / sizeof(S)), R, fan_in, rng);
    });
  }
  void unused(std::string_view) {}

 private:
  io::SafeTensorsWriter* out_;
  std::uint64_t seed_;
};

// Binds every declared weight to a checkpoint tensor of the same name.
class WeightLoader : public WeightVisitor<WeightLoader> {
 public:
  // `prefix` is prepended to every name (e.g. "language.model." for a decoder inside a VLM).
  // With bind = false the walk only checks names, shapes and dtypes (finish() reports as usual)
  // and leaves the weights empty.
  explicit WeightLoader(const io::Checkpoint& ckpt, std::string prefix = {}, bool bind = true)
      : ckpt_(&ckpt), bind_(bind) {
    prefix_ = std::move(prefix);
  }

  template <class W, std::size_t R>
  void weight(std::string_view name, Weight<W, R>& w, const std::array<std::int64_t, R>& shape) {
    const std::string full = full_name(name);
    if (!ckpt_->contains(full)) {
      problems_.push_back("missing tensor '" + full + "' " + shape_string(shape));
      return;
    }
    const io::TensorInfo& t = ckpt_->info(full);
    used_.insert(full);
    if (t.dtype == DType::u8) {
      if constexpr (is_quant_format_v<W>) bind_stored(full, t, w, shape);
      else problems_.push_back("tensor '" + full + "' is stored quantized (U8 codes), expected a floating-point type");
      return;
    }
    if (!std::equal(t.shape.begin(), t.shape.end(), shape.begin(), shape.end())) {
      problems_.push_back("tensor '" + full + "' has shape " + shape_string(t.shape) + ", expected " +
                          shape_string(shape));
      return;
    }
    if (t.dtype != DType::f32 && t.dtype != DType::bf16 && t.dtype != DType::f16) {
      problems_.push_back("tensor '" + full + "' has dtype " + std::string(dtype_name(t.dtype)) +
                          ", expected a floating-point type");
      return;
    }
    if (!bind_) return;
    try {
      bind(t, w);
    } catch (const Error& e) {  // from quantizing: a weight that is not finite or too large
      problems_.push_back("tensor '" + full + "' cannot be quantized: " + e.problem());
    }
  }

  // Names under the current prefix that the model does not read; they are not reported as
  // unexpected. A name ending in '.' covers everything below it.
  void unused(std::string_view name) { unused_.push_back(full_name(name)); }

  // After the walk: throws one dsvl::Error naming the checkpoint and listing every problem
  // (missing, wrongly shaped or typed, and unexpected tensors under `scope`, "" for all).
  void finish(std::string_view scope = {}) const {
    std::vector<std::string> all = problems_;
    for (const auto name : ckpt_->names()) {
      if (!name.starts_with(scope) || used_.count(std::string(name))) continue;
      bool skip = false;
      for (const auto& u : unused_)
        skip = skip || (u.ends_with('.') ? name.starts_with(u) : name == u);
      if (!skip) all.push_back("unexpected tensor '" + std::string(name) + "'");
    }
    if (all.empty()) return;
    std::string msg = std::to_string(all.size()) + " problem(s) with the weights:";
    for (const auto& p : all) msg += "\n  " + p;
    fail(ckpt_->path().string(), msg);
  }

  std::size_t borrowed() const noexcept { return borrowed_; }
  bool binds_data() const noexcept { return bind_; }

 private:
  template <QuantFormat F>
  void bind(const io::TensorInfo& t, Weight<F, 2>& w) {
    const std::int64_t cols = t.shape[1];
    visit_dtype(t.dtype, [&](auto tag) {
      using S = decltype(tag);
      if constexpr (std::is_same_v<S, float> || std::is_same_v<S, bf16> || std::is_same_v<S, f16>) {
        w.quantize(
            t.shape[0], cols,
            [&](std::int64_t n, float* row) {
              const std::byte* src = t.bytes.data() + n * cols * static_cast<std::int64_t>(sizeof(S));
              for (std::int64_t i = 0; i < cols; ++i) {
                S v;
                std::memcpy(&v, src + i * static_cast<std::int64_t>(sizeof(S)), sizeof(S));
                row[i] = to_f32(v);
              }
            },
            ThreadPool::global());
      }
    });
    io::detail::release_pages(t.bytes);
  }

  // A quantized matrix as WeightSaver writes it: codes and scales borrowed in place (copied when
  // the scales are not 2-byte aligned).
  template <QuantFormat F>
  void bind_stored(const std::string& full, const io::TensorInfo& codes, Weight<F, 2>& w,
                   const std::array<std::int64_t, 2>& shape) {
    const std::int64_t N = shape[0], K = shape[1];
    const std::array<std::int64_t, 2> code_shape{N, quant::row_bytes<F>(K)}, scale_shape{N, quant::groups<F>(K)};
    const std::string fmt = quant::format_name<F>();
    if (!std::equal(codes.shape.begin(), codes.shape.end(), code_shape.begin(), code_shape.end())) {
      problems_.push_back("tensor '" + full + "' holds quantized codes of shape " + shape_string(codes.shape) +
                          ", expected " + shape_string(code_shape) + " for " + shape_string(shape) + " in " + fmt);
      return;
    }
    const std::string scales_name = full + ".scales";
    if (!ckpt_->contains(scales_name)) {
      problems_.push_back("missing tensor '" + scales_name + "' " + shape_string(scale_shape) + " (the scales of '" +
                          full + "')");
      return;
    }
    const io::TensorInfo& s = ckpt_->info(scales_name);
    used_.insert(scales_name);
    if (s.dtype != DType::f16 ||
        !std::equal(s.shape.begin(), s.shape.end(), scale_shape.begin(), scale_shape.end())) {
      problems_.push_back("tensor '" + scales_name + "' is " + std::string(dtype_name(s.dtype)) + " " +
                          shape_string(s.shape) + ", expected F16 " + shape_string(scale_shape) + " for " + fmt);
      return;
    }
    if (!bind_) return;
    const auto* code_bytes = reinterpret_cast<const std::uint8_t*>(codes.bytes.data());
    if (reinterpret_cast<std::uintptr_t>(s.bytes.data()) % alignof(f16) == 0) {
      w.borrow(QuantView<F>(code_bytes, reinterpret_cast<const f16*>(s.bytes.data()), N, K));
      ++borrowed_;
      return;
    }
    QuantMatrix<F> m(N, K);
    std::memcpy(m.codes(), code_bytes, codes.bytes.size());
    std::memcpy(m.scales(), s.bytes.data(), s.bytes.size());
    w.own(std::move(m));
  }

  template <class W, std::size_t R>
  void bind(const io::TensorInfo& t, Weight<W, R>& w) {
    if (t.dtype == dtype_of<W>() &&
        reinterpret_cast<std::uintptr_t>(t.bytes.data()) % alignof(W) == 0) {
      w.borrow(io::tensor_view<W, R>(t));
      ++borrowed_;
      return;
    }
    typename View<W, R>::Shape s{};
    for (std::size_t i = 0; i < R; ++i) s[i] = t.shape[i];
    View<W, R> dst = w.allocate(s);
    const std::byte* src = t.bytes.data();
    W* out = dst.data();
    visit_dtype(t.dtype, [&](auto tag) {
      using S = decltype(tag);
      if constexpr (std::is_same_v<S, float> || std::is_same_v<S, bf16> || std::is_same_v<S, f16>) {
        for (std::int64_t i = 0; i < dst.size(); ++i) {
          S v;
          std::memcpy(&v, src + i * sizeof(S), sizeof(S));
          out[i] = from_f32<W>(to_f32(v));
        }
      }
    });
    io::detail::release_pages(t.bytes);
  }

  template <class Shape>
  static std::string shape_string(const Shape& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  }

  const io::Checkpoint* ckpt_;
  bool bind_ = true;
  std::vector<std::string> problems_;
  std::set<std::string> used_;
  std::vector<std::string> unused_;
  std::size_t borrowed_ = 0;
};

// Binds every weight that `block` declares to the tensor "<prefix><name>" of `ckpt`, then reports
// in one dsvl::Error every missing, misshapen or wrongly typed tensor and every tensor under
// `prefix` that is not declared. The checkpoint must outlive the block where a weight is read in
// place (its dtype is the block's storage type).
template <class Block>
void load_weights(Block& block, const io::Checkpoint& ckpt, const std::string& prefix = {}) {
  WeightLoader loader(ckpt, prefix);
  loader.walk(block);
  loader.finish(prefix);
}

// Adds every declared weight to a writer under its full name (random-weight checkpoints of the
// real shapes, converted models, quantized checkpoints), quantized matrices as stored (codes and
// scales, above). Nothing is copied until the writer writes the file, so the weights must outlive
// its write().
class WeightSaver : public WeightVisitor<WeightSaver> {
 public:
  explicit WeightSaver(io::SafeTensorsWriter& out, std::string prefix = {}) : out_(&out) {
    prefix_ = std::move(prefix);
  }
  template <class W, std::size_t R>
  void weight(std::string_view name, Weight<W, R>& w, const std::array<std::int64_t, R>&) {
    if constexpr (is_quant_format_v<W>) {
      const QuantView<W> q = w.view();
      const std::int64_t N = q.shape(0);
      out_->add_borrowed(full_name(name), View<const std::uint8_t, 2>(q.codes(0), {N, q.row_bytes()}));
      out_->add_borrowed(full_name(name) + ".scales", View<const f16, 2>(q.scales(0), {N, q.groups()}));
    } else {
      out_->add_borrowed(full_name(name), View<const W, R>(w.view()));
    }
  }
  void unused(std::string_view) {}

 private:
  io::SafeTensorsWriter* out_;
};

}  // namespace dsvl::nn
