#pragma once
// InlineList<T, Capacity>: a list of at most Capacity values stored inline. It is a structural
// type (public members only), so configs that hold one can be template arguments, as compile-time
// presets are; std::vector cannot.
//
// Unused slots stay value-initialised, so the defaulted == compares lists by their contents.

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <stdexcept>

namespace dsvl {

template <class T, std::size_t Capacity>
struct InlineList {
  std::array<T, Capacity> items{};
  std::size_t count = 0;

  constexpr InlineList() = default;
  constexpr InlineList(std::initializer_list<T> values) { assign(values.begin(), values.end()); }

  // Throws std::length_error past Capacity (callers that read a config name the field first).
  template <class It>
  constexpr void assign(It first, It last) {
    const auto n = static_cast<std::size_t>(std::distance(first, last));
    if (n > Capacity) throw std::length_error("dsvl::InlineList: more values than its capacity");
    items = {};
    std::copy(first, last, items.begin());
    count = n;
  }

  static constexpr std::size_t capacity() noexcept { return Capacity; }
  constexpr std::size_t size() const noexcept { return count; }
  constexpr bool empty() const noexcept { return count == 0; }
  constexpr const T* begin() const noexcept { return items.data(); }
  constexpr const T* end() const noexcept { return items.data() + count; }
  constexpr const T& operator[](std::size_t i) const noexcept { return items[i]; }
  constexpr const T& front() const noexcept { return items[0]; }

  constexpr bool operator==(const InlineList&) const = default;
};

}  // namespace dsvl
