#pragma once
// Sampler: the next token from a row of logits, as transformers' generate() chooses it.
//
// Steps:
//   0. no_repeat_ngram (language/no_repeat_ngram.hpp): DeepSeek-OCR's rule over the generated tokens
//      sets banned logits to -inf. First, as vLLM's V0 engine runs logits processors (when it
//      computes the logits) before its sampler's penalties; the order does not change the result,
//      since the penalty keeps -inf at -inf.
//   Then transformers' order:
//   1. repetition_penalty p (RepetitionPenaltyLogitsProcessor): for every distinct id in the
//      history (prompt and generated tokens), a logit l becomes l / p if l > 0, else l * p.
//   2. temperature == 0: greedy, the argmax (do_sample=False; the lowest id wins a tie); nothing
//      below applies.
//   3. temperature t > 0: logits / t (TemperatureLogitsWarper).
//   4. top_k k > 0: keep the logits >= the k-th largest (TopKLogitsWarper; ties at the k-th value
//      are all kept).
//   5. top_p < 1: sort the kept tokens by probability, ascending, and drop those whose cumulative
//      probability is <= 1 - top_p, never the most probable one (TopPLogitsWarper).
//   6. draw from the softmax of what is left.
// Randomness: std::mt19937_64 seeded with SamplingConfig::seed; each draw takes one 64-bit
// output r and uses u = (r >> 11) * 2^-53 in [0, 1), then the first token whose cumulative
// probability (in double, over ids in increasing order) exceeds u * total. Neither step depends on
// the standard library's distributions, so a seed gives the same tokens on every platform.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/language/no_repeat_ngram.hpp"

namespace dsvl::language {

struct SamplingConfig {
  float temperature = 0.0f;         // 0: greedy
  std::int64_t top_k = 0;           // 0: off
  float top_p = 1.0f;               // 1: off
  float repetition_penalty = 1.0f;  // 1: off
  std::uint64_t seed = 0;
  NoRepeatNGram no_repeat_ngram{};  // ngram_size 0: off
};

class Sampler {
 public:
  explicit Sampler(const SamplingConfig& cfg = {}) : cfg_(cfg), rng_(cfg.seed) {
    constexpr const char* where = "Sampler";
    DSVL_CHECK(cfg.temperature >= 0.0f && std::isfinite(cfg.temperature), where, "temperature ", cfg.temperature,
               " must be finite and >= 0");
    DSVL_CHECK(cfg.top_k >= 0, where, "top_k ", cfg.top_k, " must be >= 0");
    DSVL_CHECK(cfg.top_p > 0.0f && cfg.top_p <= 1.0f, where, "top_p ", cfg.top_p, " must be in (0, 1]");
    DSVL_CHECK(cfg.repetition_penalty > 0.0f && std::isfinite(cfg.repetition_penalty), where, "repetition_penalty ",
               cfg.repetition_penalty, " must be finite and > 0");
    check_no_repeat_ngram(cfg.no_repeat_ngram);
  }

  const SamplingConfig& config() const noexcept { return cfg_; }
  bool greedy() const noexcept { return cfg_.temperature == 0.0f; }

  // The next token. `history`: the ids the repetition penalty looks at (ignored when it is 1);
  // `generated`: the reply's tokens so far, which the no-repeat n-gram rule looks at.
  std::int32_t sample(std::span<const float> logits, std::span<const std::int32_t> history = {},
                      std::span<const std::int32_t> generated = {}) {
    DSVL_CHECK(!logits.empty(), "Sampler::sample", "no logits");
    penalized_.assign(logits.begin(), logits.end());
    ban_repeated_ngrams(penalized_, generated, cfg_.no_repeat_ngram);
    apply_repetition_penalty(penalized_, history, cfg_.repetition_penalty);
    if (greedy()) return argmax(penalized_);
    probabilities(penalized_, probs_);
    const double total = std::accumulate(probs_.begin(), probs_.end(), 0.0);
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;
    double acc = 0.0;
    std::int32_t last = 0;
    for (std::size_t i = 0; i < probs_.size(); ++i) {
      if (probs_[i] <= 0.0) continue;
      acc += probs_[i];
      last = static_cast<std::int32_t>(i);
      if (u < acc) return last;
    }
    return last;  // u rounded up to the total
  }

  // The distribution that sample() draws from (sums to 1; a one-hot vector when greedy).
  std::vector<double> distribution(std::span<const float> logits, std::span<const std::int32_t> history = {},
                                   std::span<const std::int32_t> generated = {}) const {
    std::vector<float> l(logits.begin(), logits.end());
    ban_repeated_ngrams(l, generated, cfg_.no_repeat_ngram);
    apply_repetition_penalty(l, history, cfg_.repetition_penalty);
    std::vector<double> p(l.size(), 0.0);
    if (l.empty()) return p;
    if (greedy()) {
      p[static_cast<std::size_t>(argmax(l))] = 1.0;
      return p;
    }
    probabilities(l, p);
    const double total = std::accumulate(p.begin(), p.end(), 0.0);
    for (auto& e : p) e /= total;
    return p;
  }

  // transformers' RepetitionPenaltyLogitsProcessor, in place: each distinct id of `history` once.
  // Errors name an id outside the logits.
  static void apply_repetition_penalty(std::span<float> logits, std::span<const std::int32_t> history,
                                       float penalty) {
    if (penalty == 1.0f) return;
    std::vector<std::int32_t> ids(history.begin(), history.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (const std::int32_t id : ids) {
      DSVL_CHECK(id >= 0 && static_cast<std::size_t>(id) < logits.size(), "Sampler", "history id ", id,
                 " is outside the ", logits.size(), " logits");
      float& l = logits[static_cast<std::size_t>(id)];
      l = l < 0.0f ? l * penalty : l / penalty;
    }
  }

  static std::int32_t argmax(std::span<const float> logits) {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }

 private:
  // Unnormalised probabilities after temperature, top-k and top-p (0 for removed tokens).
  void probabilities(std::span<const float> logits, std::vector<double>& p) const {
    const std::size_t n = logits.size();
    const double inv_t = 1.0 / static_cast<double>(cfg_.temperature);
    std::vector<double> z(n);
    for (std::size_t i = 0; i < n; ++i) z[i] = static_cast<double>(logits[i]) * inv_t;
    constexpr double kNegInf = -std::numeric_limits<double>::infinity();
    if (cfg_.top_k > 0 && static_cast<std::size_t>(cfg_.top_k) < n) {
      std::vector<double> sorted = z;
      std::nth_element(sorted.begin(), sorted.begin() + (cfg_.top_k - 1), sorted.end(), std::greater<>());
      const double kth = sorted[static_cast<std::size_t>(cfg_.top_k - 1)];
      for (auto& e : z)
        if (e < kth) e = kNegInf;
    }
    const double m = *std::max_element(z.begin(), z.end());
    p.assign(n, 0.0);
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += (p[i] = z[i] == kNegInf ? 0.0 : std::exp(z[i] - m));
    if (cfg_.top_p < 1.0f) {
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
      const double drop = 1.0 - static_cast<double>(cfg_.top_p);
      double cum = 0.0;
      for (std::size_t r = 0; r + 1 < n; ++r) {  // the most probable token (last) always stays
        cum += p[order[r]] / sum;
        if (cum > drop) break;
        p[order[r]] = 0.0;
      }
    }
  }

  SamplingConfig cfg_;
  std::mt19937_64 rng_;
  std::vector<float> penalized_;
  std::vector<double> probs_;
};

}  // namespace dsvl::language
