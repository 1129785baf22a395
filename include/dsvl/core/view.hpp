#pragma once
// View<T, Rank, Memory>: a non-owning, strided window on memory, with shapes in PyTorch order
// (outermost first) and strides counted in elements. The memory space is part of the type, so a
// host kernel cannot be handed device memory by accident, nor the reverse.

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "dsvl/core/error.hpp"

namespace dsvl {

enum class Memory : std::uint8_t { host, cuda };

template <class T, std::size_t Rank, Memory M = Memory::host>
class View {
  static_assert(Rank >= 1, "dsvl::View: Rank must be at least 1");

 public:
  using element_type = T;
  using value_type = std::remove_const_t<T>;
  using Shape = std::array<std::int64_t, Rank>;
  static constexpr std::size_t rank = Rank;
  static constexpr Memory memory = M;

  constexpr View() noexcept : data_(nullptr), shape_{}, stride_{} {}

  // A contiguous row-major view.
  constexpr View(T* data, const Shape& shape) noexcept : data_(data), shape_(shape) {
    std::int64_t s = 1;
    for (std::size_t i = Rank; i-- > 0;) {
      stride_[i] = s;
      s *= shape_[i];
    }
  }
  constexpr View(T* data, const Shape& shape, const Shape& stride) noexcept
      : data_(data), shape_(shape), stride_(stride) {}

  // View<T> -> View<const T>.
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  constexpr View(const View<U, Rank, M>& v) noexcept  // NOLINT: implicit by design
      : data_(v.data()), shape_(v.shape()), stride_(v.strides()) {}

  // Host and device views never convert into each other: a kernel handed the wrong memory stops
  // the build here, with this sentence, instead of reading device memory on the host.
  template <class U, Memory M2>
    requires(M2 != M)
  constexpr View(const View<U, Rank, M2>&) noexcept {  // NOLINT
    static_assert(M2 == M,
                  "dsvl::View: host and device memory do not convert into each other; copy explicitly "
                  "(dsvl::copy in <dsvl/core/device.hpp>) and pass a view of the right memory");
  }

  constexpr T* data() const noexcept { return data_; }
  constexpr const Shape& shape() const noexcept { return shape_; }
  constexpr const Shape& strides() const noexcept { return stride_; }
  constexpr std::int64_t shape(std::size_t i) const noexcept { return shape_[i]; }
  constexpr std::int64_t stride(std::size_t i) const noexcept { return stride_[i]; }
  constexpr std::int64_t size() const noexcept {
    std::int64_t n = 1;
    for (auto s : shape_) n *= s;
    return n;
  }
  constexpr bool empty() const noexcept { return size() == 0; }

  // True when the elements are packed in row-major order with no gaps.
  constexpr bool is_contiguous() const noexcept {
    std::int64_t s = 1;
    for (std::size_t i = Rank; i-- > 0;) {
      if (shape_[i] != 1 && stride_[i] != s) return false;
      s *= shape_[i];
    }
    return true;
  }
  // True when the innermost dimension is packed (stride 1), which every kernel requires.
  constexpr bool inner_contiguous() const noexcept { return shape_[Rank - 1] <= 1 || stride_[Rank - 1] == 1; }

  template <class... I>
    requires(sizeof...(I) == Rank && (std::is_integral_v<I> && ...))
  constexpr T& operator()(I... idx) const noexcept {
    static_assert(M == Memory::host, "dsvl::View: elements of device memory cannot be read on the host");
    const std::int64_t i[] = {static_cast<std::int64_t>(idx)...};
    std::int64_t off = 0;
    for (std::size_t d = 0; d < Rank; ++d) off += i[d] * stride_[d];
    return data_[off];
  }

  // Slice along the first dimension: a view of rank Rank-1.
  constexpr auto operator[](std::int64_t i) const noexcept
    requires(Rank > 1)
  {
    std::array<std::int64_t, Rank - 1> shape{}, stride{};
    for (std::size_t d = 1; d < Rank; ++d) {
      shape[d - 1] = shape_[d];
      stride[d - 1] = stride_[d];
    }
    return View<T, Rank - 1, M>(data_ + i * stride_[0], shape, stride);
  }

  // Elements [begin, end) of dimension `dim`.
  constexpr View slice(std::size_t dim, std::int64_t begin, std::int64_t end) const {
    DSVL_CHECK(dim < Rank && 0 <= begin && begin <= end && end <= shape_[dim], "View::slice",
               "range [", begin, ", ", end, ") out of bounds for dimension ", dim);
    View v = *this;
    v.data_ = data_ + begin * stride_[dim];
    v.shape_[dim] = end - begin;
    return v;
  }

  // Same elements, another shape; requires a contiguous view.
  template <std::size_t R2>
  constexpr View<T, R2, M> reshape(const std::array<std::int64_t, R2>& shape) const {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    DSVL_CHECK(is_contiguous(), "View::reshape", "the view is not contiguous");
    DSVL_CHECK(n == size(), "View::reshape", "new shape has ", n, " elements, the view has ", size());
    return View<T, R2, M>(data_, shape);
  }

  // Rows of the last dimension: [prod(shape[0..Rank-2]), shape[Rank-1]]; requires that the
  // leading dimensions collapse into one stride.
  constexpr View<T, 2, M> rows() const {
    if constexpr (Rank == 2) {
      return *this;
    } else if constexpr (Rank == 1) {
      return View<T, 2, M>(data_, {1, shape_[0]}, {shape_[0], stride_[0]});
    } else {
      std::int64_t n = 1;
      for (std::size_t d = 0; d + 1 < Rank; ++d) n *= shape_[d];
      for (std::size_t d = 0; d + 2 < Rank; ++d)
        DSVL_CHECK(shape_[d] <= 1 || stride_[d] == stride_[d + 1] * shape_[d + 1], "View::rows",
                   "leading dimensions do not collapse into one stride");
      return View<T, 2, M>(data_, {n, shape_[Rank - 1]}, {stride_[Rank - 2], stride_[Rank - 1]});
    }
  }

 private:
  T* data_;
  Shape shape_;
  Shape stride_;
};

template <class T, std::size_t R>
using HostView = View<T, R, Memory::host>;
template <class T, std::size_t R>
using DeviceView = View<T, R, Memory::cuda>;

// A contiguous host view over a pointer: view(p, {rows, cols}).
template <class T, std::size_t R>
constexpr View<T, R> view(T* data, const std::int64_t (&shape)[R]) noexcept {
  std::array<std::int64_t, R> s{};
  for (std::size_t i = 0; i < R; ++i) s[i] = shape[i];
  return View<T, R>(data, s);
}

// Shape equality, for kernel preconditions.
template <class A, class B>
constexpr bool same_shape(const A& a, const B& b) noexcept {
  if constexpr (A::rank != B::rank) return false;
  else return a.shape() == b.shape();
}

}  // namespace dsvl
