#pragma once
// Loop detection: whether the generated tokens have fallen into a loop, so that generation can
// stop there rather than run to max_new_tokens.
//
// A loop of period p over the last k tokens (k >= 2p): each of the last k - p tokens equals the token
// p before it, so the k tokens are copies of one p-token span back to back (the last copy may be
// cut short). After each token the detector keeps, per period p, the number of trailing tokens equal
// to the token p before them; it fires at the first token where some p in [min_period, max_period]
// reaches k >= min_tokens and k >= min_repeats * p, and reports the smallest such p.
//
// Cost per token: one comparison per period; memory: the last max_period tokens.
//
// The defaults fire on 2048 tokens of exact repetition (3 copies at least for periods above 682).
// Legitimate answers repeat exactly for far less: a row of empty table cells `<td></td>` is tens of
// tokens, a blank form of 40 identical rows about 1000 (docs/text.md). 2048 is a quarter of
// DeepSeek-OCR's 8192-token budget. Periods up to 1024 cover a paragraph said again and again.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "dsvl/core/error.hpp"

namespace dsvl::language {

struct LoopDetection {
  bool enabled = true;
  std::int64_t min_period = 1;     // tokens
  std::int64_t max_period = 1024;  // tokens
  std::int64_t min_repeats = 3;    // copies of the period, the last one possibly cut short
  std::int64_t min_tokens = 2048;  // tokens that the copies cover
};

// The loop that was found: its period and the tokens that its copies cover (0, 0: none).
struct Loop {
  std::int64_t period = 0;
  std::int64_t tokens = 0;
};

class LoopDetector {
 public:
  // Errors name a setting out of range (when enabled).
  explicit LoopDetector(const LoopDetection& cfg = {}) : cfg_(cfg) {
    if (!cfg.enabled) return;
    constexpr const char* where = "LoopDetection";
    DSVL_CHECK(cfg.min_period >= 1 && cfg.min_period <= cfg.max_period, where, "periods ", cfg.min_period, "..",
               cfg.max_period, " are not a range of at least 1");
    DSVL_CHECK(cfg.min_repeats >= 2, where, "min_repeats ", cfg.min_repeats, " must be >= 2");
    DSVL_CHECK(cfg.min_tokens >= 0, where, "min_tokens ", cfg.min_tokens, " must be >= 0");
    last_.resize(static_cast<std::size_t>(cfg.max_period));
    run_.assign(static_cast<std::size_t>(cfg.max_period - cfg.min_period + 1), 0);
  }

  // Adds the next generated token; true when the tokens so far end in a loop (loop() says which).
  // Always false when disabled.
  bool push(std::int32_t token) {
    if (!cfg_.enabled) return false;
    const std::int64_t t = count_++, P = cfg_.max_period;
    loop_ = {};
    for (std::int64_t p = cfg_.min_period; p <= std::min(t, P); ++p) {
      std::int64_t& run = run_[static_cast<std::size_t>(p - cfg_.min_period)];
      run = last_[static_cast<std::size_t>((t - p) % P)] == token ? run + 1 : 0;
      const std::int64_t k = run + p;
      if (loop_.period == 0 && k >= cfg_.min_tokens && k >= cfg_.min_repeats * p) loop_ = {p, k};
    }
    last_[static_cast<std::size_t>(t % P)] = token;
    return loop_.period != 0;
  }

  // The loop that the last push() found.
  const Loop& loop() const noexcept { return loop_; }
  const LoopDetection& config() const noexcept { return cfg_; }

 private:
  LoopDetection cfg_;
  std::vector<std::int32_t> last_;  // the last max_period tokens, token t at t % max_period
  std::vector<std::int64_t> run_;   // per period p: trailing tokens equal to the token p before
  std::int64_t count_ = 0;
  Loop loop_{};
};

}  // namespace dsvl::language
