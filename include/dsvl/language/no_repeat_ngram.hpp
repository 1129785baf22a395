#pragma once
// DeepSeek-OCR's no-repeat n-gram rule (NoRepeatNGramLogitsProcessor in the official
// DeepSeek-OCR-vllm/process/ngram_norepeat.py, which run_dpsk_ocr_image.py uses with n 30, window 90
// and ids 128821 `<td>`, 128822 `</td>` exempt).
//
// Over the L generated tokens g (the reply so far, never the prompt: vLLM's V0 engine passes a
// two-argument logits processor the request's output_token_ids only), with n <= L:
//   the prefix is the last n - 1 tokens, g[L-n+1 .. L-1];
//   every n-gram g[i .. i+n-1] with max(0, L - window) <= i <= L - n whose first n - 1 tokens equal
//   the prefix bans its last token g[i+n-1], unless that id is exempt;
//   a banned token's logit becomes -inf.
// So the n-grams looked at lie wholly in the last `window` tokens, and none when window < n.
// n = 1 bans nothing: the official prefix is input_ids[-0:], the whole list, which never equals
// the empty prefix of a 1-gram (transformers' no_repeat_ngram_size 1 would ban every seen token).
//
// Cost per call: at most (window - n + 1) comparisons of n - 1 ids.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "dsvl/core/error.hpp"

namespace dsvl::language {

struct NoRepeatNGram {
  std::int64_t ngram_size = 0;                    // n; 0: off
  std::int64_t window_size = 100;                 // the official class's default
  std::vector<std::int32_t> whitelist_token_ids;  // never banned
};

// Errors name a setting out of range (n or window below 0 or 1).
inline void check_no_repeat_ngram(const NoRepeatNGram& rule) {
  DSVL_CHECK(rule.ngram_size >= 0, "NoRepeatNGram", "ngram_size ", rule.ngram_size, " must be >= 0 (0: off)");
  DSVL_CHECK(rule.window_size >= 1, "NoRepeatNGram", "window_size ", rule.window_size, " must be >= 1");
}

// Sets to -inf the logits of the tokens the rule bans after `generated`. Errors name a banned id
// outside the logits.
inline void ban_repeated_ngrams(std::span<float> logits, std::span<const std::int32_t> generated,
                                const NoRepeatNGram& rule) {
  const auto L = static_cast<std::int64_t>(generated.size()), n = rule.ngram_size;
  if (n < 2 || L < n) return;
  const auto prefix = generated.subspan(static_cast<std::size_t>(L - n + 1));
  for (std::int64_t i = std::max<std::int64_t>(0, L - rule.window_size); i <= L - n; ++i) {
    const auto ngram = generated.subspan(static_cast<std::size_t>(i), static_cast<std::size_t>(n));
    if (!std::equal(prefix.begin(), prefix.end(), ngram.begin())) continue;
    const std::int32_t id = ngram.back();
    if (std::find(rule.whitelist_token_ids.begin(), rule.whitelist_token_ids.end(), id) !=
        rule.whitelist_token_ids.end())
      continue;
    DSVL_CHECK(id >= 0 && static_cast<std::size_t>(id) < logits.size(), "NoRepeatNGram", "generated id ", id,
               " is outside the ", logits.size(), " logits");
    logits[static_cast<std::size_t>(id)] = -std::numeric_limits<float>::infinity();
  }
}

}  // namespace dsvl::language
