#pragma once
// The walks over a block's declared weights (nn/weights.hpp) that read or write a checkpoint:
// WeightLoader and load_weights bind the weights to an io::Checkpoint (zero copy where the file
// stores the block's type, one report of every problem, a NaN or infinite weight included), WeightSaver and RandomWeightSaver add
// them to an io::SafeTensorsWriter. io/safetensors.hpp includes this header, so a program that
// opens a checkpoint can load blocks from it; block headers include only nn/weights.hpp.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
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
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/nn/weights.hpp"

namespace dsvl::nn {

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

namespace detail {

// The first element of `n` (at `p`, any alignment) whose bits under kExponent are all ones (a NaN
// or an infinity in an IEEE format), or -1. Blocks are tested without branches (vectorised).
template <class U, U kExponent>
std::int64_t first_all_ones(const std::byte* p, std::size_t n) {
  constexpr std::size_t kBlock = 4096;
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t e = std::min(n, b + kBlock);
    unsigned hit = 0;
    for (std::size_t i = b; i < e; ++i) {
      U v;
      std::memcpy(&v, p + i * sizeof(U), sizeof(U));
      hit |= static_cast<unsigned>((v & kExponent) == kExponent);
    }
    if (hit == 0) continue;
    for (std::size_t i = b; i < e; ++i) {
      U v;
      std::memcpy(&v, p + i * sizeof(U), sizeof(U));
      if ((v & kExponent) == kExponent) return static_cast<std::int64_t>(i);
    }
  }
  return -1;
}

// The first NaN or infinite element of an F32, BF16 or F16 tensor, or -1 (other dtypes: -1).
inline std::int64_t first_non_finite(const io::TensorInfo& t) {
  const std::byte* p = t.bytes.data();
  switch (t.dtype) {
    case DType::f32: return first_all_ones<std::uint32_t, 0x7F800000u>(p, t.bytes.size() / 4);
    case DType::bf16: return first_all_ones<std::uint16_t, 0x7F80u>(p, t.bytes.size() / 2);
    case DType::f16: return first_all_ones<std::uint16_t, 0x7C00u>(p, t.bytes.size() / 2);
    default: return -1;
  }
}

// Element i of a floating-point tensor, as text ("nan", "inf", "-inf", ...).
inline std::string value_string(const io::TensorInfo& t, std::int64_t i) {
  float v = 0;
  visit_dtype(t.dtype, [&](auto tag) {
    using S = decltype(tag);
    if constexpr (std::is_same_v<S, float> || std::is_same_v<S, bf16> || std::is_same_v<S, f16>) {
      S x;
      std::memcpy(&x, t.bytes.data() + i * static_cast<std::int64_t>(sizeof(S)), sizeof(S));
      v = to_f32(x);
    }
  });
  return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

// The row-major index of flat element i.
inline std::vector<std::int64_t> unravel(const std::vector<std::int64_t>& shape, std::int64_t i) {
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}

}  // namespace detail

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
    if constexpr (!is_quant_format_v<W>) {  // the quantizer names the row and group itself
      if (const std::int64_t i = detail::first_non_finite(t); i >= 0) {
        problems_.push_back("tensor '" + full + "'" + (t.file == ckpt_->path() ? "" : " in " + t.file.string()) +
                            " holds the non-finite weight " + detail::value_string(t, i) + " at element " +
                            std::to_string(i) + " " + shape_string(detail::unravel(t.shape, i)));
        return;
      }
    }
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
  // (missing, wrongly shaped or typed, non-finite, and unexpected tensors under `scope`, "" for
  // all; a tensor in another file than the checkpoint's path is named with its file).
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
// place (its dtype is the block's storage type). Declared, with its default prefix, in
// nn/weights.hpp.
template <class Block>
void load_weights(Block& block, const io::Checkpoint& ckpt, const std::string& prefix) {
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
