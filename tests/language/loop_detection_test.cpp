// Loop detection: the detector against its definition recomputed from scratch, and generate() on
// decoders whose greedy output is known (tests/language/scripted_decoder.hpp): cycles that must
// stop, and a long table of repeated rows and empty cells that must not.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "dsvl/language/generate.hpp"
#include "dsvl/language/loop_detection.hpp"
#include "language/scripted_decoder.hpp"

using namespace dsvl;
using namespace dsvl::language;

namespace {

using Ids = std::vector<std::int32_t>;

// The loop that the tokens end in by the definition: for each period p < L, k = p plus the trailing
// tokens equal to the token p before them; the smallest p with k >= min_tokens and
// k >= min_repeats * p.
Loop loop_by_definition(const Ids& g, const LoopDetection& cfg) {
  const auto L = static_cast<std::int64_t>(g.size());
  for (std::int64_t p = cfg.min_period; p <= cfg.max_period && p < L; ++p) {
    std::int64_t k = p;
    while (k < L && g[static_cast<std::size_t>(L - 1 - (k - p))] == g[static_cast<std::size_t>(L - 1 - k)]) ++k;
    if (k >= cfg.min_tokens && k >= cfg.min_repeats * p) return {p, k};
  }
  return {};
}

// The index of the token at which the detector fires (-1: never), and its loop.
std::pair<std::int64_t, Loop> first_loop(const Ids& g, const LoopDetection& cfg) {
  LoopDetector d(cfg);
  for (std::size_t i = 0; i < g.size(); ++i)
    if (d.push(g[i])) return {static_cast<std::int64_t>(i), d.loop()};
  return {-1, {}};
}

// n tokens of 0 1 ... period-1 0 1 ...
Ids cycle(std::int32_t period, std::size_t n) {
  Ids g;
  for (std::size_t i = 0; i < n; ++i) g.push_back(static_cast<std::int32_t>(i % static_cast<std::size_t>(period)));
  return g;
}

}  // namespace

TEST_CASE("LoopDetector: fires at the first token where a period's copies reach both thresholds") {
  // Five distinct tokens, then the cycle 0 1 2 3: 12 tokens of it make 3 copies of period 4.
  Ids g = {100, 101, 102, 103, 104};
  const Ids c = cycle(4, 40);
  g.insert(g.end(), c.begin(), c.end());
  auto [at, loop] = first_loop(g, {true, 1, 8, 3, 12});
  CHECK(at == 5 + 11);
  CHECK(loop.period == 4);  // not 8, which the cycle also has
  CHECK(loop.tokens == 12);
  // min_repeats decides when min_tokens is lower: 5 copies.
  std::tie(at, loop) = first_loop(g, {true, 1, 8, 5, 0});
  CHECK(at == 5 + 19);
  CHECK(loop.tokens == 20);
  // Periods 5 to 8 see the cycle as period 8, at 3 copies of 8; 5 to 7 never.
  std::tie(at, loop) = first_loop(g, {true, 5, 8, 3, 0});
  CHECK(at == 5 + 23);
  CHECK(loop.period == 8);
  CHECK(first_loop(g, {true, 5, 7, 3, 0}).first == -1);
  // Off: never.
  CHECK(first_loop(g, {false, 1, 8, 3, 12}).first == -1);
  // A token off the cycle starts the count again.
  Ids broken = cycle(2, 10);
  broken.push_back(7);
  const Ids more = cycle(2, 20);
  broken.insert(broken.end(), more.begin(), more.end());
  CHECK(first_loop(broken, {true, 1, 8, 3, 16}).first == 11 + 15);
}

TEST_CASE("LoopDetector: equals the definition after every token of random sequences") {
  std::mt19937 gen(11);
  int fired_tokens = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int alphabet = 1 + trial % 4;
    const LoopDetection cfg{true, 1 + trial % 3, 1 + trial % 3 + trial % 9, 2 + trial % 3, trial % 13};
    CAPTURE(trial);
    Ids g;
    LoopDetector d(cfg);
    for (int i = 0; i < 120; ++i) {
      // Mostly copies of an earlier token, so that runs of every length come.
      const bool copy = !g.empty() && gen() % 4 != 0;
      g.push_back(copy ? g[g.size() - 1 - gen() % std::min<std::size_t>(g.size(), 12)]
                       : static_cast<std::int32_t>(gen() % static_cast<unsigned>(alphabet)));
      const bool fired = d.push(g.back());
      const Loop want = loop_by_definition(g, cfg);
      REQUIRE(fired == (want.period != 0));
      fired_tokens += fired;
      CHECK(d.loop().period == want.period);
      CHECK(d.loop().tokens == want.tokens);
    }
  }
  CHECK(fired_tokens > 1000);  // of 36000 tokens, with both answers
  CHECK(fired_tokens < 35000);
}

TEST_CASE("LoopDetector: settings out of range are errors when it is on") {
  CHECK_THROWS_AS(LoopDetector({true, 0, 8, 3, 0}), dsvl::Error);
  CHECK_THROWS_AS(LoopDetector({true, 9, 8, 3, 0}), dsvl::Error);
  CHECK_THROWS_AS(LoopDetector({true, 1, 8, 1, 0}), dsvl::Error);
  CHECK_THROWS_AS(LoopDetector({true, 1, 8, 3, -1}), dsvl::Error);
  CHECK_NOTHROW(LoopDetector({false, 0, 0, 0, -1}));
}

namespace {

// Greedy on a decoder that follows token t with (t + 1) mod period: 0 1 ... period-1 0 1 ...
Generation run_cycle(std::int32_t period, std::int64_t max_new_tokens, const LoopDetection& loop = {}) {
  const test::ScriptedDecoder dec(period + 1, [=](std::int32_t t, std::int64_t) { return (t + 1) % period; });
  KvCache cache = dec.make_cache(max_new_tokens + 1, DType::f32);
  const Ids prompt = {period - 1};
  Ids history = prompt;
  Sampler greedy;
  return generate(dec, dec.embed(prompt).view(), cache, history, {max_new_tokens, {}, loop}, greedy);
}

}  // namespace

TEST_CASE("generate: a decoder that cycles stops with reason loop, its tokens kept") {
  // The defaults: 2048 tokens of a period up to 682, 3 copies of a longer one.
  auto g = run_cycle(7, 8192);
  CHECK(g.reason == StopReason::loop);
  CHECK(g.loop.period == 7);
  CHECK(g.loop.tokens == 2048);
  CHECK(g.tokens == cycle(7, 2048));
  g = run_cycle(1000, 8192);
  CHECK(g.reason == StopReason::loop);
  CHECK(g.loop.period == 1000);
  CHECK(g.tokens.size() == 3000);
  // A period past max_period (1024), or the detection off, runs to max_new_tokens.
  g = run_cycle(1100, 4000);
  CHECK(g.reason == StopReason::max_new_tokens);
  CHECK(g.loop.period == 0);
  g = run_cycle(7, 3000, {.enabled = false});
  CHECK(g.reason == StopReason::max_new_tokens);
  CHECK(g.tokens == cycle(7, 3000));
  // A loop completed at the max_new_tokens-th token is reported as a loop.
  g = run_cycle(7, 2048);
  CHECK(g.reason == StopReason::loop);
  CHECK(g.tokens.size() == 2048);
}

namespace {

// An OCR answer of a long table: numbered rows (the number's cell, then 15 empty cells), identical
// blank rows (12 empty cells) and the end; then EOS.
constexpr std::int32_t kTable = 1000, kTableEnd = 1001, kTr = 1002, kTrEnd = 1003, kTd = 1004, kTdEnd = 1005,
                       kEos = 1006;

Ids table(std::int32_t numbered_rows, int blank_rows) {
  Ids g = {kTable};
  for (std::int32_t r = 0; r < numbered_rows; ++r) {
    g.insert(g.end(), {kTr, kTd, r, kTdEnd});
    for (int c = 0; c < 15; ++c) g.insert(g.end(), {kTd, kTdEnd});
    g.push_back(kTrEnd);
  }
  for (int r = 0; r < blank_rows; ++r) {
    g.push_back(kTr);
    for (int c = 0; c < 12; ++c) g.insert(g.end(), {kTd, kTdEnd});
    g.push_back(kTrEnd);
  }
  g.insert(g.end(), {kTableEnd, kEos});
  return g;
}

// Greedy on a decoder that writes `script` after a one-token prompt.
Generation run_script(const Ids& script) {
  const test::ScriptedDecoder dec(kEos + 1, [&](std::int32_t, std::int64_t position) {
    return script[static_cast<std::size_t>(position)];
  });
  KvCache cache = dec.make_cache(8193, DType::f32);
  const Ids prompt = {0};
  Ids history = prompt;
  Sampler greedy;
  return generate(dec, dec.embed(prompt).view(), cache, history, {8192, {kEos}}, greedy);
}

}  // namespace

TEST_CASE("generate: a long table of repeated rows and empty cells does not stop at the defaults") {
  // 200 numbered rows (7000 tokens), whose runs of <td></td> repeat 15 times, and 40 blank rows: 1040
  // tokens that repeat a 26-token row exactly.
  const Ids answer = table(200, 40);
  CHECK(answer.size() == 8043);
  const auto g = run_script(answer);
  CHECK(g.reason == StopReason::stop_id);
  CHECK(g.tokens == answer);
  // 80 blank rows (2080 tokens) are where the defaults draw the line: they stop at 2048.
  const auto long_blank = run_script(table(100, 80));
  CHECK(long_blank.reason == StopReason::loop);
  CHECK(long_blank.loop.period == 26);
  CHECK(long_blank.loop.tokens == 2048);
}
