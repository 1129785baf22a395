#pragma once
// dsvl::Error: the one exception type of the library. Its message names what went wrong and
// where (a file, a tensor, a config field, a kernel argument).

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace dsvl {

class Error : public std::runtime_error {
 public:
  Error(std::string where, std::string what)
      : std::runtime_error(where.empty() ? what : where + ": " + what),
        where_(std::move(where)),
        what_(std::move(what)) {}

  // The place: a file path, "tensor 'model.norm.weight'", "kernels::gemm", ...
  const std::string& where() const noexcept { return where_; }
  // The problem, without the place.
  const std::string& problem() const noexcept { return what_; }

 private:
  std::string where_;
  std::string what_;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

// Throws dsvl::Error(where, concat(args...)).
template <class... Args>
[[noreturn]] void fail(const std::string& where, const Args&... args) {
  throw Error(where, detail::concat(args...));
}

}  // namespace dsvl

// Checks a precondition; on failure throws dsvl::Error naming `where` and the failed condition.
#define DSVL_CHECK(cond, where, ...)                                                  \
  do {                                                                                \
    if (!(cond)) [[unlikely]]                                                         \
      ::dsvl::fail((where), __VA_ARGS__ __VA_OPT__(, ) " (check failed: " #cond ")"); \
  } while (0)
