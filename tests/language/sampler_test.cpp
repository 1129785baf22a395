// Sampler (distributions, repetition penalty, seeds) and generation (stop conditions, streaming,
// multi-turn cache reuse) on the tiny LLaMA fixture of tests/data/llama/.

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

#include "dsvl/dsvl.hpp"
#include "dsvl/language/generate.hpp"
#include "dsvl/language/sampler.hpp"

using namespace dsvl;
using namespace dsvl::language;

namespace {

std::vector<std::size_t> support(const std::vector<double>& p) {
  std::vector<std::size_t> s;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i] > 0) s.push_back(i);
  return s;
}

// Logits whose softmax is exactly `probs` (up to rounding).
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

}  // namespace

TEST_CASE("Sampler: top-k keeps exactly the k largest logits (all ties at the k-th)") {
  const std::vector<float> l = {0.5f, 3.0f, -1.0f, 2.0f, 2.5f, 0.0f};
  CHECK(support(Sampler({1.0f, 3}).distribution(l)) == std::vector<std::size_t>{1, 3, 4});
  CHECK(support(Sampler({1.0f, 1}).distribution(l)) == std::vector<std::size_t>{1});
  CHECK(support(Sampler({1.0f, 6}).distribution(l)).size() == 6);
  CHECK(support(Sampler({1.0f, 100}).distribution(l)).size() == 6);
  const std::vector<float> ties = {1.0f, 2.0f, 2.0f, 0.0f};
  CHECK(support(Sampler({1.0f, 1}).distribution(ties)) == std::vector<std::size_t>{1, 2});
  // The kept tokens keep their relative probabilities.
  const auto p = Sampler({1.0f, 2}).distribution(l);
  CHECK(p[1] / p[4] == doctest::Approx(std::exp(0.5)).epsilon(1e-6));
}

TEST_CASE("Sampler: top-p keeps the smallest most-probable set, as transformers' TopPLogitsWarper") {
  // Probabilities 0.5, 0.3, 0.15, 0.05; ascending cumulative sums 0.05, 0.2, 0.5, 1.
  const auto l = logits_of({0.15, 0.5, 0.05, 0.3});
  const auto top_p = [&](float p) { return support(Sampler({1.0f, 0, p}).distribution(l)); };
  CHECK(top_p(1.0f) == std::vector<std::size_t>{0, 1, 2, 3});
  CHECK(top_p(0.9f) == std::vector<std::size_t>{0, 1, 3});  // drops cumulative <= 0.1: the 0.05
  CHECK(top_p(0.75f) == std::vector<std::size_t>{1, 3});    // drops cumulative <= 0.25
  CHECK(top_p(0.4f) == std::vector<std::size_t>{1});        // drops cumulative <= 0.6
  CHECK(top_p(1e-6f) == std::vector<std::size_t>{1});       // the most probable always stays
  const auto p = Sampler({1.0f, 0, 0.75f}).distribution(l);
  CHECK(p[1] == doctest::Approx(0.5 / 0.8));
  CHECK(p[3] == doctest::Approx(0.3 / 0.8));
  // top-k first, then top-p on what is left: k = 3 leaves 0.5, 0.3, 0.15 (renormalised to 0.95),
  // whose ascending cumulative sums are 0.158, 0.474, 1; top_p 0.8 drops the first.
  CHECK(support(Sampler({1.0f, 3, 0.8f}).distribution(l)) == std::vector<std::size_t>{1, 3});
}

TEST_CASE("Sampler: temperature scales the logits; temperature -> 0 is greedy") {
  const std::vector<float> l = {0.1f, 1.0f, 0.7f};
  const auto p = Sampler({2.0f}).distribution(l);
  double z = 0;
  for (float v : l) z += std::exp(v / 2.0);
  for (std::size_t i = 0; i < l.size(); ++i) CHECK(p[i] == doctest::Approx(std::exp(l[i] / 2.0) / z));

  std::mt19937 gen(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<float> logits(257);
    for (auto& v : logits) v = normal(gen);
    const std::int32_t best = Sampler::argmax(logits);
    Sampler greedy({0.0f}), cold({1e-4f, 0, 1.0f, 1.0f, static_cast<std::uint64_t>(trial)});
    CHECK(greedy.sample(logits) == best);
    CHECK(cold.sample(logits) == best);
    CHECK(Sampler({0.0f}).distribution(logits)[static_cast<std::size_t>(best)] == 1.0);
  }
}

TEST_CASE("Sampler: a seed repeats its draws, and the draws follow the distribution") {
  const auto l = logits_of({0.1, 0.2, 0.3, 0.4});
  const SamplingConfig cfg{1.0f, 0, 1.0f, 1.0f, 42};
  Sampler a(cfg), b(cfg), c({1.0f, 0, 1.0f, 1.0f, 43});
  std::vector<std::int32_t> da, db, dc;
  for (int i = 0; i < 200; ++i) {
    da.push_back(a.sample(l));
    db.push_back(b.sample(l));
    dc.push_back(c.sample(l));
  }
  CHECK(da == db);
  CHECK(da != dc);

  // 40000 draws: each frequency within 4 standard deviations (sqrt(p (1 - p) / n) <= 0.0025).
  Sampler s({1.0f, 0, 1.0f, 1.0f, 7});
  std::vector<int> count(4, 0);
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++count[static_cast<std::size_t>(s.sample(l))];
  for (std::size_t i = 0; i < 4; ++i) CHECK(std::fabs(count[i] / double(n) - 0.1 * double(i + 1)) < 0.01);
  // Tokens removed by top-k are never drawn.
  Sampler k2({1.0f, 2, 1.0f, 1.0f, 9});
  for (int i = 0; i < 2000; ++i) CHECK(k2.sample(l) >= 2);
}

TEST_CASE("Sampler: repetition penalty as transformers defines it") {
  // Positive logits of seen ids are divided by the penalty, negative ones multiplied, each id once.
  std::vector<float> l = {2.0f, -1.0f, 0.5f, 0.0f, 3.0f};
  const std::vector<std::int32_t> history = {0, 1, 3, 3, 0};
  Sampler::apply_repetition_penalty(l, history, 2.0f);
  CHECK(l == std::vector<float>{1.0f, -2.0f, 0.5f, 0.0f, 3.0f});
  // Greedy with the penalty: 2.0 / 2 = 1.0 falls below the unseen 1.5.
  const std::vector<float> m = {2.0f, -1.0f, 1.5f};
  CHECK(Sampler({0.0f}).sample(m, std::vector<std::int32_t>{0}) == 0);
  CHECK(Sampler({0.0f, 0, 1.0f, 2.0f}).sample(m, std::vector<std::int32_t>{0}) == 2);
  // A penalty below 1 favours seen tokens.
  CHECK(Sampler({0.0f, 0, 1.0f, 0.5f}).sample(std::vector<float>{1.0f, 1.8f}, std::vector<std::int32_t>{0}) == 0);
  CHECK_THROWS_AS(Sampler({0.0f, 0, 1.0f, 2.0f}).sample(m, std::vector<std::int32_t>{3}), dsvl::Error);
}

TEST_CASE("Sampler: invalid settings are errors") {
  CHECK_THROWS_AS(Sampler({-1.0f}), dsvl::Error);
  CHECK_THROWS_AS(Sampler({1.0f, -1}), dsvl::Error);
  CHECK_THROWS_AS(Sampler({1.0f, 0, 0.0f}), dsvl::Error);
  CHECK_THROWS_AS(Sampler({1.0f, 0, 1.5f}), dsvl::Error);
  CHECK_THROWS_AS(Sampler({1.0f, 0, 1.0f, 0.0f}), dsvl::Error);
}

namespace {
struct Fixture {
  std::filesystem::path dir = std::filesystem::path(DSVL_TEST_DATA_DIR) / "llama" / "gqa";
  io::Checkpoint ckpt = io::Checkpoint::open(dir);
  DenseDecoder<policies::HwyF32> dec{read_llama_config(dir / "config.json")};
  io::SafeTensorsFile ref{dir / "reference.safetensors"};
  Fixture() { dec.load(ckpt); }
  std::vector<std::int32_t> ids(const char* name) const {
    const auto v = ref.view<std::int32_t, 1>(name);
    return {v.data(), v.data() + v.shape(0)};
  }
};
}  // namespace

TEST_CASE("generate: greedy tokens, stop ids, max_new_tokens, a full cache, the streaming callback") {
  const Fixture f;
  const auto prompt_ids = f.ids("input_ids"), want = f.ids("greedy_ids");
  const auto T = static_cast<std::int64_t>(prompt_ids.size());
  const auto prompt = f.dec.embed(prompt_ids);
  const auto run = [&](const GenerationOptions& opt, std::int64_t capacity, const TokenCallback& cb = {}) {
    KvCache cache = f.dec.make_cache(capacity);
    std::vector<std::int32_t> history = prompt_ids;
    Sampler greedy;
    auto g = generate(f.dec, prompt.view(), cache, history, opt, greedy, cb);
    CHECK(cache.size() == T + static_cast<std::int64_t>(g.tokens.size()) - 1);
    return g;
  };
  // transformers' generate(do_sample=False) for 32 tokens.
  auto g = run({32, {}}, 64);
  CHECK(g.tokens == want);
  CHECK(g.reason == StopReason::max_new_tokens);
  // Stop at the first occurrence of a stop id; the stop id ends the reply.
  const std::int32_t stop = want[5];
  const auto first = static_cast<std::size_t>(std::find(want.begin(), want.end(), stop) - want.begin());
  g = run({32, {999999, stop}}, 64);
  CHECK(g.reason == StopReason::stop_id);
  CHECK(g.tokens == std::vector<std::int32_t>(want.begin(), want.begin() + first + 1));
  // max_new_tokens.
  g = run({3, {}}, 64);
  CHECK(g.tokens == std::vector<std::int32_t>(want.begin(), want.begin() + 3));
  // A cache with room for the prompt and 4 more tokens: 5 tokens (the last is never run).
  g = run({32, {}}, T + 4);
  CHECK(g.reason == StopReason::cache_full);
  CHECK(g.tokens == std::vector<std::int32_t>(want.begin(), want.begin() + 5));
  // The callback sees every token in order and may stop.
  std::vector<std::int32_t> streamed;
  g = run({32, {}}, 64, [&](std::int32_t t) {
    streamed.push_back(t);
    return streamed.size() < 4;
  });
  CHECK(g.reason == StopReason::callback);
  CHECK(streamed == g.tokens);
  CHECK(g.tokens == std::vector<std::int32_t>(want.begin(), want.begin() + 4));
}

TEST_CASE("ChatSession: a second turn reuses the cache and equals running the whole conversation") {
  const Fixture f;
  const auto turn1 = f.ids("turn1_ids"), turn2 = f.ids("turn2_ids");
  const GenerationOptions opt{6, {}};
  ChatSession chat(f.dec, 64);
  const auto r1 = chat.send(turn1, opt);
  CHECK(r1.tokens.size() == 6);
  CHECK(chat.cache().size() == static_cast<std::int64_t>(turn1.size() + 5));
  const auto r2 = chat.send(turn2, opt);
  CHECK(chat.tokens().size() == turn1.size() + 6 + turn2.size() + 6);

  // The same conversation in one prompt, without a cache from before.
  std::vector<std::int32_t> all = turn1;
  all.insert(all.end(), r1.tokens.begin(), r1.tokens.end());
  all.insert(all.end(), turn2.begin(), turn2.end());
  ChatSession once(f.dec, 64);
  CHECK(once.send(all, opt).tokens == r2.tokens);

  // Rewinding to the end of turn 1's prompt regenerates the same (greedy) reply.
  chat.rewind(static_cast<std::int64_t>(turn1.size()));
  CHECK(chat.cache().size() == static_cast<std::int64_t>(turn1.size()) - 1);
  CHECK(chat.send(std::vector<std::int32_t>{}, opt).tokens == r1.tokens);
}
