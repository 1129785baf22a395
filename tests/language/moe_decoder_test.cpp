// The DeepSeekMoE decoder's parts on their own: the config (the published DeepSeek-VL2 Base config
// against the preset, defaults, refusals), MoE routing on hand-made router weights (every
// topk_method, the group mask, the unbiased weights of noaux_tc, normalisation and scaling),
// grouped experts against a per-token loop, MLA's absorbed form against the expanded one and its
// cache size, and cached decoding against full recomputes for MLA and MHA layers. The reference
// comparisons are in deepseek_vl2_test.cpp (tests/models).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "dsvl/kernels/kernels.hpp"  // the xsimd and Highway backends, before the blocks
#include "dsvl/io/json.hpp"
#include "dsvl/language/deepseek_v2_config.hpp"
#include "dsvl/language/moe_decoder.hpp"
#include "dsvl/nn/weights.hpp"
#include "reference_fixture.hpp"
#include "shared_data.hpp"

using namespace dsvl;
using namespace dsvl::language;
using dsvl::test::relative_error;

namespace {

DeepseekV2Config tiny_config(bool mla, TopkMethod method = TopkMethod::greedy) {
  DeepseekV2Config c;
  c.hidden_size = 48;
  c.intermediate_size = 80;
  c.moe_intermediate_size = 20;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.use_mla = mla;
  c.kv_lora_rank = 24;
  c.qk_nope_head_dim = 12;
  c.qk_rope_head_dim = 8;
  c.v_head_dim = 10;
  c.n_routed_experts = 8;
  c.n_shared_experts = 2;
  c.num_experts_per_tok = 3;
  c.first_k_dense_replace = 1;
  c.topk_method = method;
  c.n_group = method == TopkMethod::greedy ? 1 : 4;
  c.topk_group = method == TopkMethod::greedy ? 1 : 2;
  c.scoring_func = method == TopkMethod::noaux_tc ? ScoringFunc::sigmoid : ScoringFunc::softmax;
  c.norm_topk_prob = method == TopkMethod::noaux_tc;
  c.routed_scaling_factor = method == TopkMethod::noaux_tc ? 2.0 : 1.0;
  c.vocab_size = 50;
  c.max_position_embeddings = 64;
  return c;
}

Tensor<float, 2> random_rows(std::int64_t T, std::int64_t D, unsigned seed) {
  Tensor<float, 2> x({T, D});
  std::uint32_t s = seed * 2654435761u + 1;
  for (std::int64_t i = 0; i < x.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    x.data()[i] = static_cast<float>(s >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
  }
  return x;
}

nlohmann::json language_json(const std::string& text) { return io::parse_json(text, "config.json"); }

}  // namespace

TEST_CASE("DeepseekV2Config: the published DeepSeek-VL2 config is the Base preset") {
  const auto path = test::shared_data("tokenizers/deepseek-vl2/config.json");
  if (path.empty()) {
    MESSAGE("skipped: the shared data folder is absent");
    return;
  }
  const auto j = io::read_json(path);
  const DeepseekV2Config c = parse_deepseek_v2_config(j, path.string(), "language_config/");
  INFO(c);
  for (const auto& d : differences(c, kDeepSeekVL2BaseLanguage)) MESSAGE(d);
  CHECK(c == kDeepSeekVL2BaseLanguage);
}

TEST_CASE("DeepseekV2Config: absent keys take the official defaults, null ones read as 0") {
  const auto c = parse_deepseek_v2_config(
      language_json(R"({"q_lora_rank": null, "kv_lora_rank": null, "use_mla": false, "hidden_size": 64,
                        "num_attention_heads": 4, "num_key_value_heads": 4})"),
      "c");
  CHECK(c.kv_lora_rank == 0);
  CHECK(c.num_hidden_layers == 30);
  CHECK(c.intermediate_size == 11008);
  CHECK(c.vocab_size == 102400);
  CHECK(c.max_position_embeddings == 2048);
  CHECK(c.n_routed_experts == 0);
  CHECK_FALSE(c.is_moe_layer(0));
}

TEST_CASE("DeepseekV2Config: what the decoder does not implement is refused by name") {
  const auto refuses = [](const std::string& text, const std::string& needle) {
    try {
      parse_deepseek_v2_config(language_json(text), "config.json", "language_config/");
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
      return;
    }
    FAIL("no error for " << text);
  };
  refuses(R"({"language_config": {}})", "q_lora_rank");  // the default 1536
  refuses(R"({"language_config": {"q_lora_rank": null, "n_routed_experts": 8, "num_experts_per_tok": 2}})",
          "language_config/topk_method");
  refuses(R"({"language_config": {"q_lora_rank": null, "topk_method": "gready"}})", "\"gready\"");
  refuses(R"({"language_config": {"q_lora_rank": null, "scoring_func": "relu"}})", "scoring_func");
  refuses(R"({"language_config": {"q_lora_rank": null, "rope_scaling": {"type": "yarn"}}})", "rope_scaling");
  refuses(R"({"language_config": {"q_lora_rank": null, "hidden_act": "gelu"}})", "hidden_act");
  refuses(R"({"language_config": {"q_lora_rank": null, "n_routed_experts": 9, "num_experts_per_tok": 2,
              "topk_method": "noaux_tc", "n_group": 2, "topk_group": 1}})",
          "n_group");
  refuses(R"({"language_config": {"q_lora_rank": null, "hidden_size": "big"}})", "language_config/hidden_size");
}

TEST_CASE("DeepseekMoE routing: greedy, group-limited and noaux_tc on hand-made router weights") {
  // D = E = 8 and gate = identity, so the router logits are the input row itself.
  const auto route = [](TopkMethod method, std::vector<float> row, std::vector<float> bias = {}) {
    DeepseekV2Config c = tiny_config(false, method);
    c.hidden_size = 8;
    DeepseekMoE<policies::ScalarF32> moe(c);
    float* g = moe.gate.allocate({8, 8}).data();
    for (int e = 0; e < 8; ++e) g[e * 8 + e] = 1.0f;
    float* b = moe.e_score_correction_bias.allocate({8}).data();
    for (std::size_t e = 0; e < bias.size(); ++e) b[e] = bias[e];
    Tensor<float, 2> x({1, 8});
    std::copy(row.begin(), row.end(), x.data());
    ThreadPool pool(1);
    return moe.route(std::as_const(x).view(), pool);
  };
  const auto experts = [](const ExpertChoice& c) {
    std::vector<int> e(c.experts.data(), c.experts.data() + c.experts.size());
    std::sort(e.begin(), e.end());
    return e;
  };

  SUBCASE("greedy: the top-3 softmax probabilities, not renormalised") {
    const std::vector<float> row{0.1f, 2.0f, -1.0f, 1.5f, 0.0f, 3.0f, -2.0f, 0.5f};
    const auto c = route(TopkMethod::greedy, row);
    CHECK(experts(c) == std::vector<int>{1, 3, 5});
    double z = 0;
    for (float v : row) z += std::exp(v);
    for (int i = 0; i < 3; ++i) CHECK(c.weights(0, i) == doctest::Approx(std::exp(row[c.experts(0, i)]) / z));
  }
  SUBCASE("group_limited_greedy: groups scored by their best expert, the others masked") {
    // Groups {0,1} {2,3} {4,5} {6,7}; the best two groups are {6,7} (max 2.9) and {0,1} (max 2.8),
    // so expert 3 (2.7, group {2,3}) loses to expert 1 (1.0) although its score is higher.
    const std::vector<float> row{2.8f, 1.0f, 0.0f, 2.7f, 0.2f, 0.3f, 2.9f, -1.0f};
    const auto c = route(TopkMethod::group_limited_greedy, row);
    CHECK(experts(c) == std::vector<int>{0, 1, 6});
  }
  SUBCASE("noaux_tc: chosen by scores + bias, weighted by the unbiased sigmoid scores, normalised, x2") {
    const std::vector<float> row{0.0f, 0.5f, 1.0f, -0.5f, 2.0f, 1.5f, -1.0f, 0.25f};
    // Bias makes experts 6 and 7 (group {6,7}) the strongest; group scores (sum of top 2 choices).
    const std::vector<float> bias{0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f};
    const auto c = route(TopkMethod::noaux_tc, row, bias);
    // sigmoid: {.5, .62, .73, .38, .88, .82, .27, .56}; with bias 6 -> 1.27, 7 -> 1.56.
    // groups: {0,1} 1.12, {2,3} 1.11, {4,5} 1.70, {6,7} 2.83 -> keep {4,5} and {6,7}; the top 3
    // choices there are 7 (1.56), 6 (1.27) and 4 (.88), although 6's own score (.27) is the lowest.
    CHECK(experts(c) == std::vector<int>{4, 6, 7});
    const auto sig = [](float v) { return 1.0 / (1.0 + std::exp(-v)); };
    const double sum = sig(row[4]) + sig(row[6]) + sig(row[7]);
    for (int i = 0; i < 3; ++i) CHECK(c.weights(0, i) == doctest::Approx(sig(row[c.experts(0, i)]) / sum * 2.0));
  }
  SUBCASE("noaux_tc: masked experts count as 0 and beat negative choices, as in the official code") {
    const std::vector<float> row(8, 0.0f);  // every sigmoid score 0.5
    const std::vector<float> bias{-1.0f, -1.0f, -1.0f, -1.0f, 0.0f, 0.0f, -2.0f, -2.0f};
    // choices {-.5 x4, .5, .5, -1.5, -1.5}; groups {0,1} -1, {2,3} -1, {4,5} 1, {6,7} -3 -> keep {4,5}
    // and {0,1} (the lower index of the tie); masked {2,3,6,7} become 0 > -0.5, so the third
    // expert is 2, the first masked one, not 0 or 1.
    const auto c = route(TopkMethod::noaux_tc, row, bias);
    CHECK(experts(c) == std::vector<int>{2, 4, 5});
  }
}

TEST_CASE("DeepseekMoE: grouped experts equal a per-token loop over the chosen experts") {
  DeepseekV2Config c = tiny_config(true, TopkMethod::noaux_tc);
  DeepseekMoE<policies::HwyF32> moe(c);
  nn::WeightRandomInit init(3);
  moe.visit(init);
  ThreadPool pool(2);
  const auto x = random_rows(37, c.hidden_size, 5);
  Tensor<float, 2> y({37, c.hidden_size});
  ExpertChoice choice;
  moe.forward(x.view(), y.view(), pool, &choice);

  Tensor<float, 2> want({37, c.hidden_size}), one({1, c.hidden_size});
  for (std::int64_t t = 0; t < 37; ++t) {
    const auto row = x.view().slice(0, t, t + 1);
    moe.shared_experts.forward(row, want.view().slice(0, t, t + 1), pool);
    for (std::int64_t i = 0; i < c.num_experts_per_tok; ++i) {
      moe.experts[static_cast<std::size_t>(choice.experts(t, i))].forward(row, one.view(), pool);
      for (std::int64_t d = 0; d < c.hidden_size; ++d) want(t, d) += choice.weights(t, i) * one(0, d);
    }
  }
  CHECK(relative_error(y.view(), want.view()) < 1e-6);

  // One token (a decode step: GEMVs, on pools smaller and larger than the k chosen experts).
  for (const int threads : {1, 2, static_cast<int>(c.num_experts_per_tok) + 1}) {
    CAPTURE(threads);
    ThreadPool step_pool(threads);
    for (const std::int64_t t : {0, 17, 36}) {
      Tensor<float, 2> step({1, c.hidden_size});
      moe.forward(x.view().slice(0, t, t + 1), step.view(), step_pool);
      CHECK(relative_error(std::as_const(step).view(), want.view().slice(0, t, t + 1)) < 1e-6);
    }
  }
}

TEST_CASE("MLA: the absorbed form equals the expanded one; the latent cache holds r + dr floats per token") {
  for (const bool decode_steps : {false, true}) {
    DeepseekV2Config c = tiny_config(true);
    MoeDecoder<policies::HwyF32> decoder(c);
    nn::WeightRandomInit init(11);
    decoder.visit(init);
    const std::vector<std::int32_t> ids{3, 17, 42, 5, 9, 30, 1, 2, 44, 12, 7};
    auto cache_a = decoder.make_cache(16), cache_b = decoder.make_cache(16);
    CHECK(cache_a.bytes_per_token() ==
          static_cast<std::size_t>(c.num_hidden_layers * (c.kv_lora_rank + c.qk_rope_head_dim)) * sizeof(float));
    ThreadPool pool(2);
    const auto x = decoder.embed(ids);
    const std::int64_t split = decode_steps ? 6 : 11;  // a prefill, then one token at a time
    Tensor<float, 2> la, lb;
    for (std::int64_t t0 = 0; t0 < 11; t0 = (t0 < split ? split : t0 + 1)) {
      const std::int64_t t1 = t0 < split ? split : t0 + 1;
      const auto part = x.view().slice(0, t0, t1);
      la = decoder.forward(part, cache_a, LogitRows::all, pool, MlaForm::absorbed);
      lb = decoder.forward(part, cache_b, LogitRows::all, pool, MlaForm::expanded);
      INFO("tokens " << t0 << ".." << t1);
      CHECK(relative_error(la.view(), lb.view()) < 1e-5);
    }
  }
}

// With a bf16 cache, keys and values (MLA: the latent rows) are rounded to 8 significant bits when
// written, a relative error of up to 2^-9 in each; through softmax and the value sum that moves
// these tiny random models' logits by 1-3e-3 of their largest (measured, printed); the bound is ~4x that.
TEST_CASE("MoeDecoder: cached decode steps equal the rows of one full prefill (MLA and MHA, f32 and bf16 cache)") {
  for (const bool mla : {true, false})
    for (const DType cache_dtype : {DType::f32, DType::bf16}) {
      INFO((mla ? "MLA" : "MHA") << ", " << dtype_name(cache_dtype) << " cache");
      DeepseekV2Config c = tiny_config(mla, TopkMethod::group_limited_greedy);
      MoeDecoder<policies::XsimdBF16> decoder(c);
      nn::WeightRandomInit init(13);
      decoder.visit(init);
      const std::vector<std::int32_t> ids{4, 8, 15, 16, 23, 42, 0, 49, 21};
      ThreadPool pool(2);
      auto full_cache = decoder.make_cache(9);
      const auto full = decoder.forward_ids(ids, full_cache, LogitRows::all, pool);
      auto cache = decoder.make_cache(9, cache_dtype);
      CHECK(cache.bytes() * dtype_size(DType::f32) == full_cache.bytes() * dtype_size(cache_dtype));
      decoder.forward_ids(std::span(ids).first(5), cache, LogitRows::all, pool);
      double worst = 0;
      for (std::size_t t = 5; t < ids.size(); ++t) {
        const auto step = decoder.forward_ids(std::span(ids).subspan(t, 1), cache, LogitRows::all, pool);
        worst = std::max(worst, relative_error(step.view(), full.view().slice(0, static_cast<std::int64_t>(t),
                                                                              static_cast<std::int64_t>(t) + 1)));
      }
      MESSAGE((mla ? "MLA" : "MHA"), ", ", dtype_name(cache_dtype), " cache: decode steps vs one f32 prefill, ",
              "relative error ", worst);
      CHECK(worst < (cache_dtype == DType::f32 ? 1e-5 : 1e-2));
      CHECK(cache.size() == 9);
      CHECK_THROWS_AS(decoder.forward_ids(ids, cache), Error);  // no room left
    }
}

TEST_CASE("MoeDecoder declares the official names: MLA or MHA attention, a dense layer 0, MoE after") {
  DeepseekV2Config c = tiny_config(true, TopkMethod::noaux_tc);
  MoeDecoder<policies::ScalarF32> decoder(c);
  nn::WeightNames names;
  decoder.visit(names);
  std::vector<std::string> got;
  for (const auto& e : names.entries) got.push_back(e.name);
  const auto has = [&](const std::string& n) { return std::find(got.begin(), got.end(), n) != got.end(); };
  CHECK(has("model.layers.0.mlp.gate_proj.weight"));
  CHECK(has("model.layers.0.self_attn.kv_a_proj_with_mqa.weight"));
  CHECK(has("model.layers.1.mlp.gate.e_score_correction_bias"));
  CHECK(has("model.layers.2.mlp.experts.7.down_proj.weight"));
  CHECK(has("model.layers.2.mlp.shared_experts.up_proj.weight"));
  CHECK_FALSE(has("model.layers.1.mlp.gate_proj.weight"));
  CHECK(has("lm_head.weight"));
}
