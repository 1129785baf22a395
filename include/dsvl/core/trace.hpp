#pragma once
// The one trace hook of every block, for bisecting a mismatch with the reference to its first bad
// tensor. A block's forward takes it as its last argument, `Tracer&& tracer = {}` with
// `class Tracer = NoTrace`, and hands it events through dsvl::trace:
//
//   trace(tracer, "block", i, x.view());   // calls tracer("block", i, View<const float, R>(x))
//
// A tracer is any callable (a lambda, a struct of overloads: Overloaded{...}) taking
//   - tensor events (std::string_view name, std::int64_t layer, View<const float, R> x): `name`
//     is the reference's name for x (the PyTorch module that made it), `layer` its index in the
//     block's stack or -1 outside it, R and the shape as each block documents. A tracer must take
//     every tensor event of the block it is given (a static_assert says so otherwise);
//   - other events, (std::string_view name, std::int64_t layer, const Event&) where a block
//     documents one (MoeDecoder: ("routing", l, const language::ExpertChoice&)). These reach a
//     tracer only when it has a matching overload (trace_wants), and the work that makes them is
//     skipped otherwise.
// Arguments are valid only during the call: copy what you keep. A generic (auto) third parameter
// claims every event; constrain it (View<const float, R> with template <std::size_t R>).
//
// Cost: with NoTrace, the default, every dsvl::trace is an `if constexpr (false)` and every
// trace_wants is false, so the forward pass compiles to the untraced code.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "dsvl/core/view.hpp"

namespace dsvl {

// The default tracer: takes nothing, costs nothing.
struct NoTrace {};

// False for NoTrace (and references to it): the events are compiled out.
template <class Tracer>
inline constexpr bool is_tracing = !std::is_same_v<std::remove_cvref_t<Tracer>, NoTrace>;

// True when `Tracer` takes (name, layer, Event): whether a block makes an optional event.
template <class Tracer, class Event>
inline constexpr bool trace_wants =
    is_tracing<Tracer> && std::is_invocable_v<Tracer&, std::string_view, std::int64_t, Event>;

// A tensor event: x (float or const float, any rank) as View<const float, R>.
template <class Tracer, class T, std::size_t R>
  requires std::is_same_v<std::remove_const_t<T>, float>
constexpr void trace(Tracer&& tracer, std::string_view name, std::int64_t layer, View<T, R> x) {
  if constexpr (is_tracing<Tracer>) {
    static_assert(std::is_invocable_v<Tracer&, std::string_view, std::int64_t, View<const float, R>>,
                  "dsvl::trace: this tracer does not take the block's tensor events; give it an overload "
                  "(std::string_view name, std::int64_t layer, View<const float, R> x) for the rank R the block "
                  "documents");
    tracer(name, layer, View<const float, R>(x));
  }
}

namespace detail {
template <class T>
inline constexpr bool is_view = false;
template <class T, std::size_t R, Memory M>
inline constexpr bool is_view<View<T, R, M>> = true;
}  // namespace detail

// Any other event: delivered only to a tracer with an overload for it (trace_wants).
template <class Tracer, class Event>
  requires(!detail::is_view<Event>)
constexpr void trace(Tracer&& tracer, std::string_view name, std::int64_t layer, const Event& event) {
  if constexpr (trace_wants<Tracer, const Event&>) tracer(name, layer, event);
}

// One callable from several lambdas: Overloaded{[&](std::string_view, std::int64_t,
// View<const float, 2>) {...}, [&](std::string_view, std::int64_t, const ExpertChoice&) {...}}.
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace dsvl
