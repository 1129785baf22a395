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
// Cost per token: one comparison per period (about 0.1 us for the default 1024 periods); memory:
// the last max_period tokens, twice, and two counters per period.
//
// The defaults fire on 2048 tokens of exact repetition (3 copies at least for periods above 682).
// Legitimate answers repeat exactly for far less: a row of empty table cells `<td></td>` is tens of
// tokens, a blank form of 40 identical rows about 1000 (docs/models.md). 2048 is a quarter of
// DeepSeek-OCR's 8192-token budget. Periods up to 1024 cover a paragraph said again and again.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
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
    DSVL_CHECK(cfg.min_repeats >= 2 && cfg.min_repeats <= std::numeric_limits<std::int64_t>::max() / cfg.max_period,
               where, "min_repeats ", cfg.min_repeats, " must be >= 2 and fit in 64 bits times max_period");
    DSVL_CHECK(cfg.min_tokens >= 0, where, "min_tokens ", cfg.min_tokens, " must be >= 0");
    last_.resize(2 * static_cast<std::size_t>(cfg.max_period));
    run_.assign(static_cast<std::size_t>(cfg.max_period - cfg.min_period + 1), 0);
    for (std::int64_t p = cfg.min_period; p <= cfg.max_period; ++p)
      need_.push_back(static_cast<std::int32_t>(std::min(std::max(cfg.min_tokens, cfg.min_repeats * p) - p, kMaxRun)));
  }

  // Adds the next generated token; true when the tokens so far end in a loop (loop() says which).
  // Always false when disabled. Errors: more than 2^31 - 1 tokens.
  bool push(std::int32_t token) {
    if (!cfg_.enabled) return false;
    DSVL_CHECK(count_ < kMaxRun, "LoopDetector", "more than ", kMaxRun, " tokens");
    const std::int64_t t = count_++, P = cfg_.max_period, lo = cfg_.min_period, at = t % P;
    const std::int32_t* now = last_.data() + at + P;  // now[-p]: the token p before this one
    const auto periods = static_cast<std::size_t>(std::max<std::int64_t>(std::min(t, P) - lo + 1, 0));
    std::int32_t found = 0;
    for (std::size_t i = 0; i < periods; ++i) {
      run_[i] = now[-(lo + static_cast<std::int64_t>(i))] == token ? run_[i] + 1 : 0;
      found |= run_[i] >= need_[i];
    }
    loop_ = {};
    for (std::size_t i = 0; found && i < periods; ++i)
      if (run_[i] >= need_[i]) {
        const std::int64_t p = lo + static_cast<std::int64_t>(i);
        loop_ = {p, p + run_[i]};
        break;
      }
    last_[static_cast<std::size_t>(at)] = last_[static_cast<std::size_t>(at + P)] = token;
    return loop_.period != 0;
  }

  // The loop that the last push() found.
  const Loop& loop() const noexcept { return loop_; }
  const LoopDetection& config() const noexcept { return cfg_; }

 private:
  LoopDetection cfg_;
  std::vector<std::int32_t> last_;  // the last max_period tokens, token t at t % P and t % P + P
  // Runs and thresholds in 32 bits: with 64, GCC 12 leaves push()'s first loop scalar (10x slower).
  static constexpr std::int64_t kMaxRun = std::numeric_limits<std::int32_t>::max();
  std::vector<std::int32_t> run_;   // per period p: trailing tokens equal to the token p before
  std::vector<std::int32_t> need_;  // per period p: the run that makes a loop (at most kMaxRun)
  std::int64_t count_ = 0;
  Loop loop_{};
};

}  // namespace dsvl::language
