#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/core/tensor.hpp"
#include "dsvl/core/trace.hpp"
#include "dsvl/core/view.hpp"

using namespace dsvl;

namespace {

struct Routing {
  int experts = 0;
};

using Tensor2 = void (*)(std::string_view, std::int64_t, View<const float, 2>);
using Routed = void (*)(std::string_view, std::int64_t, const Routing&);

// What a block does with its tracer (core/trace.hpp): tensor events, and an optional event made
// only for a tracer that takes it.
template <class Tracer = NoTrace>
int block(View<float, 2> x, Tracer&& tracer = {}) {
  int routing_made = 0;
  trace(tracer, "layer", 0, x);
  Routing r;
  if constexpr (trace_wants<Tracer, const Routing&>) {
    r.experts = 3;
    ++routing_made;
  }
  trace(tracer, "routing", 0, r);
  trace(tracer, "norm", -1, View<const float, 2>(x));
  return routing_made;
}

}  // namespace

// NoTrace takes nothing: no event reaches it and no optional work is done.
static_assert(!is_tracing<NoTrace>);
static_assert(!is_tracing<const NoTrace&>);
static_assert(!trace_wants<NoTrace, const Routing&>);
static_assert(!trace_wants<NoTrace&, View<const float, 2>>);
// A tensor-only tracer does not take the optional event; a generic third parameter would.
static_assert(is_tracing<Tensor2>);
static_assert(trace_wants<Tensor2, View<const float, 2>>);
static_assert(!trace_wants<Tensor2, const Routing&>);
static_assert(!trace_wants<Tensor2, View<const float, 3>>);
static_assert(trace_wants<Routed, const Routing&>);

TEST_CASE("trace: NoTrace by default, tensor events as const views, optional events only when taken") {
  Tensor<float, 2> x({2, 3});
  for (std::int64_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i);

  CHECK(block(x.view()) == 0);

  std::vector<std::string> seen;
  const auto tensors = [&](std::string_view name, std::int64_t layer, View<const float, 2> v) {
    seen.push_back(std::string(name) + "." + std::to_string(layer) + ":" + std::to_string(v(1, 2)));
  };
  CHECK(block(x.view(), tensors) == 0);
  CHECK(seen == std::vector<std::string>{"layer.0:5.000000", "norm.-1:5.000000"});

  seen.clear();
  int experts = -1;
  CHECK(block(x.view(), Overloaded{tensors, [&](std::string_view name, std::int64_t layer, const Routing& r) {
                                     seen.push_back(std::string(name) + "." + std::to_string(layer));
                                     experts = r.experts;
                                   }}) == 1);
  CHECK(seen == std::vector<std::string>{"layer.0:5.000000", "routing.0", "norm.-1:5.000000"});
  CHECK(experts == 3);

  // Higher ranks pass through with their shape.
  std::int64_t rows = 0;
  trace([&](std::string_view, std::int64_t, View<const float, 3> v) { rows = v.shape(0) * v.shape(1); }, "x", -1,
        View<float, 3>(x.data(), {1, 2, 3}));
  CHECK(rows == 2);
}
