// DeepSeek-OCR's no-repeat n-gram rule against the official NoRepeatNGramLogitsProcessor
// (tests/data/sampler/no_repeat_ngram.json, written by tools/reference/no_repeat_ngram.py: the
// banned ids after every prefix of each case), and its place in the sampler and in generate().

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsvl/language/generate.hpp"
#include "dsvl/language/no_repeat_ngram.hpp"
#include "dsvl/language/sampler.hpp"
#include "language/scripted_decoder.hpp"

using namespace dsvl;
using namespace dsvl::language;

namespace {

// The ids the rule bans after `generated`, with `vocab` logits.
std::vector<std::int32_t> banned(const NoRepeatNGram& rule, const std::vector<std::int32_t>& generated,
                                 std::size_t vocab) {
  std::vector<float> logits(vocab, 0.0f);
  ban_repeated_ngrams(logits, generated, rule);
  std::vector<std::int32_t> out;
  for (std::size_t i = 0; i < vocab; ++i)
    if (logits[i] == -std::numeric_limits<float>::infinity()) out.push_back(static_cast<std::int32_t>(i));
  return out;
}

using Ids = std::vector<std::int32_t>;

}  // namespace

TEST_CASE("NoRepeatNGram: the banned ids after every prefix equal the official processor's") {
  std::ifstream f(std::string(DSVL_TEST_DATA_DIR) + "/sampler/no_repeat_ngram.json");
  REQUIRE_MESSAGE(f.good(), "missing fixture tests/data/sampler/no_repeat_ngram.json");
  const auto fixture = nlohmann::json::parse(f);
  int prefixes = 0;
  for (const auto& c : fixture.at("cases")) {
    CAPTURE(c.at("name").get<std::string>());
    const NoRepeatNGram rule{c.at("ngram_size").get<std::int64_t>(), c.at("window_size").get<std::int64_t>(),
                             c.at("whitelist_token_ids").get<Ids>()};
    const auto ids = c.at("input_ids").get<Ids>();
    const auto want = c.at("banned").get<std::vector<Ids>>();
    REQUIRE(want.size() == ids.size() + 1);
    for (std::size_t L = 0; L <= ids.size(); ++L, ++prefixes) {
      CAPTURE(L);
      const Ids prefix(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(L));
      CHECK(banned(rule, prefix, c.at("vocab").get<std::size_t>()) == want[L]);
    }
  }
  CHECK(prefixes > 800);
}

TEST_CASE("NoRepeatNGram: n 1, history shorter than n, window edges, exempt ids") {
  // n = 1 bans nothing (the official prefix input_ids[-0:] is the whole list); off (0) neither.
  CHECK(banned({1, 100, {}}, {2, 2, 2}, 4).empty());
  CHECK(banned({0, 100, {}}, {2, 2, 2}, 4).empty());
  // Fewer than n tokens: nothing. n tokens: the n-gram ending at the last token is looked at.
  CHECK(banned({3, 100, {}}, {1, 1}, 4).empty());
  CHECK(banned({3, 100, {}}, {1, 1, 1}, 4) == Ids{1});
  // The n-gram (0 1 5) starts at L - 8: window 8 sees it, window 7 does not.
  const Ids g = {0, 1, 5, 9, 8, 7, 0, 1};
  CHECK(banned({3, 8, {}}, g, 10) == Ids{5});
  CHECK(banned({3, 7, {}}, g, 10).empty());
  // A window below n sees no n-gram at all.
  CHECK(banned({2, 1, {}}, {4, 4, 4, 4}, 5).empty());
  CHECK(banned({2, 2, {}}, {4, 4, 4, 4}, 5) == Ids{4});
  // Every n-gram that follows the prefix bans its last token; exempt ids stay.
  const Ids h = {0, 1, 0, 2, 0, 3, 0};
  CHECK(banned({2, 100, {}}, h, 4) == Ids{1, 2, 3});
  CHECK(banned({2, 100, {1, 3}}, h, 4) == Ids{2});
  // A banned id must be a logit.
  std::vector<float> small(2, 0.0f);
  CHECK_THROWS_AS(ban_repeated_ngrams(small, Ids{5, 5, 5}, {2, 100, {}}), dsvl::Error);
  CHECK_THROWS_AS(Sampler(SamplingConfig{.no_repeat_ngram = {-1, 100, {}}}), dsvl::Error);
  CHECK_THROWS_AS(Sampler(SamplingConfig{.no_repeat_ngram = {3, 0, {}}}), dsvl::Error);
}

TEST_CASE("Sampler: the no-repeat n-gram rule comes before the penalty and greedy, over the generated ids") {
  const std::vector<float> logits = {0.5f, 3.0f, 2.0f, -1.0f};
  const Ids generated = {1, 0, 1};  // n 2: (1 0) bans 0 after the prefix (1)
  const SamplingConfig rule{.no_repeat_ngram = {2, 100, {}}};
  CHECK(Sampler(rule).sample(logits, {}, Ids{0, 1}) == 1);  // (0 1) bans 1 only after a 0
  CHECK(Sampler(rule).sample(logits, {}, Ids{1, 0, 1, 0}) == 2);  // 1 banned: the next best
  CHECK(Sampler(rule).sample(logits, {}, generated) == 1);        // 0 banned, not the argmax
  // The history the penalty sees is not what the rule sees.
  CHECK(Sampler(rule).sample(logits, Ids{1, 0, 1, 0}, Ids{}) == 1);
  // A banned token keeps probability 0 whatever the penalty and temperature.
  SamplingConfig warm = rule;
  warm.temperature = 1.0f;
  warm.repetition_penalty = 0.5f;  // favours seen tokens: -inf * 0.5 stays -inf
  const auto p = Sampler(warm).distribution(logits, Ids{1, 0}, Ids{1, 0, 1, 0});
  CHECK(p[1] == 0.0);
  CHECK(p[0] + p[2] + p[3] == doctest::Approx(1.0));
}

TEST_CASE("generate: the no-repeat n-gram rule sees the reply, not the prompt") {
  // Greedy runs 0 1 2 0 1 2 ... (token t is followed by t + 1 mod 3), with 3 the runner-up.
  test::ScriptedDecoder dec(4, [](std::int32_t t, std::int64_t) { return (t + 1) % 3; });
  dec.second = [](std::int32_t, std::int64_t) { return 3; };
  const Ids prompt = {0, 1, 2, 0, 1};
  const auto run = [&](const NoRepeatNGram& rule) {
    KvCache cache = dec.make_cache(64, DType::f32);
    Ids history = prompt;
    Sampler sampler(SamplingConfig{.no_repeat_ngram = rule});
    return generate(dec, dec.embed(prompt).view(), cache, history, {8, {}}, sampler).tokens;
  };
  CHECK(run({}) == Ids{2, 0, 1, 2, 0, 1, 2, 0});
  // n 3. Had the rule seen the prompt, its (0 1 2) would ban the first 2. The reply's own (2 0 1)
  // bans 1 after 2 0, so the runner-up 3 comes, and 3 leads on to 1.
  CHECK(run({3, 100, {}}) == Ids{2, 0, 1, 2, 0, 3, 1, 2});
  // The cycle's ids exempt: the plain cycle.
  CHECK(run({3, 100, {0, 1, 2}}) == Ids{2, 0, 1, 2, 0, 1, 2, 0});
}
