#pragma once
// Text generation with a decoder (DenseDecoder, MoeDecoder): a prompt, then one token at a time on
// the KV cache, until a stop id, a loop (language/loop_detection.hpp), max_new_tokens, a full
// cache, or the streaming callback says stop.
//
//   generate(decoder, prompt_embeddings, cache, history, options, sampler, on_token)
//     one call: runs the prompt after what the cache holds, then samples.
//   ChatSession<Decoder>: multi-turn. It keeps the ids of everything said so far and the cache of all
//     but the last sampled token, so each send() runs only the tokens not yet cached (the last
//     reply's final token and the new turn), never the conversation again.
//
// A generated stop id is part of the reply (as in transformers' output sequences). The callback
// sees every generated token, the stop id included, before the stop checks; returning false ends
// generation after that token. The tokens of a loop stay in the reply. The sampler's no-repeat
// n-gram rule sees this reply's tokens only (as vLLM gives a request's output_token_ids).

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/language/dense_decoder.hpp"
#include "dsvl/language/kv_cache.hpp"
#include "dsvl/language/loop_detection.hpp"
#include "dsvl/language/sampler.hpp"

namespace dsvl::language {

// What generation needs of a decoder: its sizes, token embeddings, a cache, and a forward pass
// over embeddings that writes logits (DenseDecoder, MoeDecoder).
template <class D>
concept CausalDecoder = requires(const D& d, std::span<const std::int32_t> ids, View<float, 2> out,
                                 View<const float, 2> x, KvCache& cache, ThreadPool& pool) {
  { d.config().hidden_size } -> std::convertible_to<std::int64_t>;
  { d.config().vocab_size } -> std::convertible_to<std::int64_t>;
  d.embed(ids, out);
  { d.embed(ids) } -> std::same_as<Tensor<float, 2>>;
  { d.make_cache(std::int64_t{}, DType::f32) } -> std::same_as<KvCache>;
  d.forward(x, cache, out, pool);
  { d.forward(x, cache, LogitRows::last, pool) } -> std::same_as<Tensor<float, 2>>;
};

struct GenerationOptions {
  std::int64_t max_new_tokens = 256;
  std::vector<std::int32_t> stop_ids;  // any of them ends the reply (e.g. EOS 100001 for v1)
  LoopDetection loop{};                // on by default (docs/models.md says why)
};

enum class StopReason {
  stop_id,         // a stop id was generated (it is the reply's last token)
  loop,            // the reply ends in a loop (Generation::loop)
  max_new_tokens,  // max_new_tokens were generated
  cache_full,      // the KV cache has no room for the next token
  callback,        // the callback returned false
};

struct Generation {
  std::vector<std::int32_t> tokens;  // the new tokens, in order
  StopReason reason = StopReason::max_new_tokens;
  Loop loop{};  // reason loop: its period and the tokens its copies cover
};

// Called with each new token; return false to stop.
using TokenCallback = std::function<bool(std::int32_t token)>;

// Runs `prompt` (T, D) after the cache's tokens and generates. `history` is what the repetition
// penalty sees (the ids of the cached tokens and of the prompt; generated tokens are added to it
// as they come). On return, the cache holds the prompt and every generated token but the last.
// T must be at least 1 (the first new token follows the prompt's last row).
template <CausalDecoder Decoder>
Generation generate(const Decoder& decoder, View<const float, 2> prompt, KvCache& cache,
                    std::vector<std::int32_t>& history, const GenerationOptions& options, Sampler& sampler,
                    const TokenCallback& on_token = {}, ThreadPool& pool = ThreadPool::global()) {
  DSVL_CHECK(prompt.shape(0) >= 1, "generate", "the prompt is empty");
  DSVL_CHECK(options.max_new_tokens >= 0, "generate", "max_new_tokens ", options.max_new_tokens, " is negative");
  LoopDetector loops(options.loop);
  Generation out;
  if (options.max_new_tokens == 0) {
    decoder.forward(prompt, cache, LogitRows::last, pool);
    return out;
  }
  Tensor<float, 2> logits = decoder.forward(prompt, cache, LogitRows::last, pool);  // (1, V)
  Tensor<float, 2> x({1, decoder.config().hidden_size});
  const auto V = static_cast<std::size_t>(decoder.config().vocab_size);
  for (;;) {
    const std::int32_t token = sampler.sample(std::span<const float>(logits.data(), V), history, out.tokens);
    out.tokens.push_back(token);
    history.push_back(token);
    if (on_token && !on_token(token)) {
      out.reason = StopReason::callback;
      break;
    }
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), token) != options.stop_ids.end()) {
      out.reason = StopReason::stop_id;
      break;
    }
    if (loops.push(token)) {
      out.reason = StopReason::loop;
      out.loop = loops.loop();
      break;
    }
    if (static_cast<std::int64_t>(out.tokens.size()) >= options.max_new_tokens) {
      out.reason = StopReason::max_new_tokens;
      break;
    }
    if (cache.remaining() == 0) {
      out.reason = StopReason::cache_full;
      break;
    }
    decoder.embed(std::span<const std::int32_t>(&token, 1), x.view());
    decoder.forward(x.view(), cache, logits.view(), pool);
  }
  return out;
}

// A conversation on one decoder and one KV cache.
template <CausalDecoder Decoder>
class ChatSession {
 public:
  // cache_dtype: the KV cache's elements, f32 or bf16 (KvCache).
  ChatSession(const Decoder& decoder, std::int64_t max_positions, const SamplingConfig& sampling = {},
              ThreadPool& pool = ThreadPool::global(), DType cache_dtype = DType::f32)
      : decoder_(&decoder), cache_(decoder.make_cache(max_positions, cache_dtype)), sampler_(sampling), pool_(&pool) {}

  // Appends `ids` (a turn already formatted with the chat template) and generates the reply.
  Generation send(std::span<const std::int32_t> ids, const GenerationOptions& options,
                  const TokenCallback& on_token = {}) {
    const Tensor<float, 2> x = decoder_->embed(ids);
    return send(x.view(), ids, options, on_token);
  }

  // As send(ids), with the turn's embeddings given (image embeddings merged in); `ids` are its
  // token ids (for the history), one per row.
  Generation send(View<const float, 2> embeddings, std::span<const std::int32_t> ids, const GenerationOptions& options,
                  const TokenCallback& on_token = {}) {
    DSVL_CHECK(embeddings.shape(0) == static_cast<std::int64_t>(ids.size()), "ChatSession::send", "embeddings have ",
               embeddings.shape(0), " rows for ", ids.size(), " ids");
    // Tokens of the history not yet in the cache (the previous reply's last token) go first.
    const auto pending = static_cast<std::int64_t>(tokens_.size()) - cache_.size();
    const std::int64_t T = pending + embeddings.shape(0), D = decoder_->config().hidden_size;
    DSVL_CHECK(T <= cache_.remaining(), "ChatSession::send", "the conversation holds ", cache_.size(), " of ",
               cache_.capacity(), " positions, no room for ", T, " more");
    Tensor<float, 2> x({T, D});
    decoder_->embed(std::span<const std::int32_t>(tokens_).subspan(static_cast<std::size_t>(cache_.size())),
                    x.view().slice(0, 0, pending));
    for (std::int64_t t = 0; t < embeddings.shape(0); ++t)
      std::copy_n(embeddings.data() + t * embeddings.stride(0), D, x.data() + (pending + t) * D);
    tokens_.insert(tokens_.end(), ids.begin(), ids.end());
    return generate(*decoder_, View<const float, 2>(x.view()), cache_, tokens_, options, sampler_, on_token, *pool_);
  }

  // Forgets everything after the first n tokens (to edit a turn or regenerate a reply). The n-th
  // token leaves the cache too, so that send() with no new ids regenerates from there.
  void rewind(std::int64_t n) {
    DSVL_CHECK(n >= 0 && n <= static_cast<std::int64_t>(tokens_.size()), "ChatSession::rewind", "cannot keep ", n,
               " of ", tokens_.size(), " tokens");
    tokens_.resize(static_cast<std::size_t>(n));
    cache_.truncate(std::min(cache_.size(), std::max<std::int64_t>(n - 1, 0)));
  }

  // Every id of the conversation so far (prompts and replies).
  std::span<const std::int32_t> tokens() const noexcept { return tokens_; }
  const KvCache& cache() const noexcept { return cache_; }
  Sampler& sampler() noexcept { return sampler_; }

 private:
  const Decoder* decoder_;
  KvCache cache_;
  Sampler sampler_;
  ThreadPool* pool_;
  std::vector<std::int32_t> tokens_;
};

}  // namespace dsvl::language
