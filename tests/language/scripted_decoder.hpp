// A CausalDecoder (language/generate.hpp) without weights, whose greedy output is known: the
// embedding of token i is the one-hot row i (hidden_size = vocab_size), and the logits after token
// t at position p are 2 for next(t, p), 1 for second(t, p) (when it differs) and 0 elsewhere. A
// cache of no layers only counts positions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>

#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/language/dense_decoder.hpp"
#include "dsvl/language/kv_cache.hpp"

namespace dsvl::test {

struct ScriptedDecoder {
  struct Config {
    std::int64_t hidden_size = 0, vocab_size = 0;
  };
  using Rule = std::function<std::int32_t(std::int32_t token, std::int64_t position)>;

  Config cfg;
  Rule next;
  Rule second = [](std::int32_t, std::int64_t) { return 0; };

  ScriptedDecoder(std::int64_t vocab, Rule next_token) : cfg{vocab, vocab}, next(std::move(next_token)) {}

  const Config& config() const noexcept { return cfg; }

  void embed(std::span<const std::int32_t> ids, View<float, 2> out) const {
    for (std::size_t t = 0; t < ids.size(); ++t) {
      const auto row = static_cast<std::int64_t>(t);
      std::fill_n(&out(row, 0), cfg.vocab_size, 0.0f);
      out(row, ids[t]) = 1.0f;
    }
  }
  Tensor<float, 2> embed(std::span<const std::int32_t> ids) const {
    Tensor<float, 2> x({static_cast<std::int64_t>(ids.size()), cfg.hidden_size});
    embed(ids, x.view());
    return x;
  }

  language::KvCache make_cache(std::int64_t max_positions, DType dtype) const {
    return language::KvCache(0, max_positions, 0, 0, 0, dtype);
  }

  // The logits of x's last logits.shape(0) rows.
  void forward(View<const float, 2> x, language::KvCache& cache, View<float, 2> logits, ThreadPool&) const {
    const std::int64_t T = x.shape(0), rows = logits.shape(0);
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t t = T - rows + r, position = cache.size() + t;
      const auto token = static_cast<std::int32_t>(std::max_element(&x(t, 0), &x(t, 0) + cfg.hidden_size) - &x(t, 0));
      std::fill_n(&logits(r, 0), cfg.vocab_size, 0.0f);
      logits(r, second(token, position)) = 1.0f;
      logits(r, next(token, position)) = 2.0f;
    }
    cache.advance(T);
  }
  Tensor<float, 2> forward(View<const float, 2> x, language::KvCache& cache, language::LogitRows which,
                           ThreadPool& pool) const {
    Tensor<float, 2> logits({which == language::LogitRows::last ? 1 : x.shape(0), cfg.vocab_size});
    forward(x, cache, logits.view(), pool);
    return logits;
  }
};

}  // namespace dsvl::test
