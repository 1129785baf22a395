#pragma once
// Tensor<T, Rank>: an owning, 64-byte aligned, contiguous host tensor (PyTorch shape order).
// Zero-initialised. Move-only; clone() copies.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "dsvl/core/view.hpp"

namespace dsvl {

inline constexpr std::size_t kAlignment = 64;

namespace detail {
struct AlignedFree {
  void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{kAlignment}); }
};
inline void* aligned_alloc_bytes(std::size_t bytes) {
  return ::operator new(bytes == 0 ? kAlignment : bytes, std::align_val_t{kAlignment});
}
}  // namespace detail

template <class T, std::size_t Rank>
class Tensor {
  static_assert(std::is_trivially_copyable_v<T>, "dsvl::Tensor holds trivially copyable elements only");

 public:
  using Shape = std::array<std::int64_t, Rank>;

  Tensor() = default;
  explicit Tensor(const Shape& shape) : shape_(shape) {
    std::int64_t n = 1;
    for (auto s : shape) {
      DSVL_CHECK(s >= 0, "Tensor", "negative extent ", s);
      n *= s;
    }
    size_ = n;
    data_.reset(static_cast<T*>(detail::aligned_alloc_bytes(sizeof(T) * static_cast<std::size_t>(n))));
    std::memset(static_cast<void*>(data_.get()), 0, sizeof(T) * static_cast<std::size_t>(n));
  }
  Tensor(std::initializer_list<std::int64_t> shape) : Tensor(to_shape(shape)) {}

  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  Tensor clone() const {
    Tensor t(shape_);
    std::copy_n(data_.get(), size_, t.data_.get());
    return t;
  }

  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  const Shape& shape() const noexcept { return shape_; }
  std::int64_t shape(std::size_t i) const noexcept { return shape_[i]; }
  std::int64_t size() const noexcept { return size_; }

  View<T, Rank> view() noexcept { return View<T, Rank>(data_.get(), shape_); }
  View<const T, Rank> view() const noexcept { return View<const T, Rank>(data_.get(), shape_); }
  operator View<T, Rank>() noexcept { return view(); }              // NOLINT
  operator View<const T, Rank>() const noexcept { return view(); }  // NOLINT

  template <class... I>
  T& operator()(I... idx) noexcept { return view()(idx...); }
  template <class... I>
  const T& operator()(I... idx) const noexcept { return view()(idx...); }

 private:
  static Shape to_shape(std::initializer_list<std::int64_t> s) {
    DSVL_CHECK(s.size() == Rank, "Tensor", "shape has ", s.size(), " extents, the tensor has rank ", Rank);
    Shape out{};
    std::copy(s.begin(), s.end(), out.begin());
    return out;
  }

  std::unique_ptr<T, detail::AlignedFree> data_;
  Shape shape_{};
  std::int64_t size_ = 0;
};

}  // namespace dsvl
