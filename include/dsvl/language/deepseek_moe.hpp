#pragma once
// DeepseekMoE<P>: the DeepSeekMoE feed-forward block (official MoEGate and DeepseekV2MoE,
// spec.md 5.5): each token goes to num_experts_per_tok of n_routed_experts SwiGLU experts, chosen
// by a router, and always through the shared experts:
//   y = sum_{e in topk} w_e * expert_e(x) + shared_experts(x).
//
// Routing, per token, in f32 (gate.weight (E, D) widened exactly):
//   scores = softmax(x · gateᵀ) or sigmoid(x · gateᵀ)                           (scoring_func)
//   greedy:               the top k scores; w = those scores.
//   group_limited_greedy: experts in n_group equal groups, a group scored by its best expert; the
//                         scores outside the best topk_group groups are set to 0, then the top k.
//   noaux_tc:             choice = scores + e_score_correction_bias; a group scored by the sum of
//                         its two best choices; choices outside the best topk_group groups set to
//                         0, then the top k of the choices; w = the unbiased scores there.
//   w = w / (sum w + 1e-20) * routed_scaling_factor when norm_topk_prob and k > 1, else
//   w * routed_scaling_factor.
// Top-k ties go to the lower expert index (torch.topk leaves them unspecified); masked groups are
// set to 0 exactly as the official code does, so a masked expert can win against negative choices.
//
// Experts run grouped (DeepseekV2MoE.moe_infer): the tokens routed to one expert are gathered
// into one matrix and the expert runs once on it (a GEMM per expert in a prefill; in a decode
// step only the k chosen experts are read, with GEMVs). Each expert's output is scaled by its
// weight and added to its tokens' rows in f32.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/kernels/contracts.hpp"
#include "dsvl/language/deepseek_v2_config.hpp"
#include "dsvl/language/swiglu_mlp.hpp"
#include "dsvl/nn/linear.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"

namespace dsvl::language {

// The experts a router chose for T tokens, in top-k order, and their weights: (T, k) each.
struct ExpertChoice {
  Tensor<std::int32_t, 2> experts;
  Tensor<float, 2> weights;
};

template <KernelPolicy P>
struct DeepseekMoE {

  explicit DeepseekMoE(const DeepseekV2Config& c)
      : cfg(c), shared_experts(c.hidden_size, c.moe_intermediate_size * c.n_shared_experts) {
    experts.reserve(static_cast<std::size_t>(c.n_routed_experts));
    for (std::int64_t e = 0; e < c.n_routed_experts; ++e) experts.emplace_back(c.hidden_size, c.moe_intermediate_size);
  }

  template <class V>
  void visit(V& v) {
    v.weight("gate.weight", gate, {cfg.n_routed_experts, cfg.hidden_size});
    if (cfg.topk_method == TopkMethod::noaux_tc)
      v.weight("gate.e_score_correction_bias", e_score_correction_bias, {cfg.n_routed_experts});
    v.layers("experts", experts);
    if (cfg.n_shared_experts > 0) v.child("shared_experts", shared_experts);
  }

  // The router's choice for the rows of x (T, D).
  ExpertChoice route(View<const float, 2> x, ThreadPool& pool) const {
    const typename P::kernel_tag tag{};
    const std::int64_t T = x.shape(0), E = cfg.n_routed_experts, k = cfg.num_experts_per_tok;
    const std::int64_t groups = cfg.n_group, per_group = E / groups;
    Tensor<float, 2> scores({T, E});
    nn::linear(tag, x, gate.view(), scores.view(), pool);  // logits (T, E)
    if (cfg.scoring_func == ScoringFunc::softmax) {
      kernels::softmax(scalar_tag{}, scores.view(), 1.0f, kernels::SoftmaxMask{});
    } else {
      for (float& s : std::span<float>(scores.data(), static_cast<std::size_t>(scores.size())))
        s = 1.0f / (1.0f + std::exp(-s));
    }

    ExpertChoice out{Tensor<std::int32_t, 2>({T, k}), Tensor<float, 2>({T, k})};
    if (cfg.topk_method == TopkMethod::greedy) {
      kernels::topk(scalar_tag{}, std::as_const(scores).view(), k, out.weights.view(), out.experts.view());
    } else {
      // Group-limited: mask every expert outside the best topk_group groups, then the top k.
      const bool noaux = cfg.topk_method == TopkMethod::noaux_tc;
      Tensor<float, 2> choice({T, E}), group_score({T, groups}), best_value({T, cfg.topk_group}), top2({1, 2});
      Tensor<std::int32_t, 2> best_group({T, cfg.topk_group}), top2_index({1, 2});
      const auto bias = e_score_correction_bias.view();
      for (std::int64_t t = 0; t < T; ++t) {
        for (std::int64_t e = 0; e < E; ++e) choice(t, e) = scores(t, e) + (noaux ? to_f32(bias(e)) : 0.0f);
        for (std::int64_t g = 0; g < groups; ++g) {
          const View<const float, 2> members(choice.data() + t * E + g * per_group, {1, per_group});
          if (noaux) {
            kernels::topk(scalar_tag{}, members, 2, top2.view(), top2_index.view());
            group_score(t, g) = top2(0, 0) + top2(0, 1);
          } else {
            group_score(t, g) = *std::max_element(members.data(), members.data() + per_group);
          }
        }
      }
      kernels::topk(scalar_tag{}, std::as_const(group_score).view(), cfg.topk_group, best_value.view(),
                    best_group.view());
      for (std::int64_t t = 0; t < T; ++t)
        for (std::int64_t g = 0; g < groups; ++g) {
          const auto* chosen = best_group.data() + t * cfg.topk_group;
          if (std::find(chosen, chosen + cfg.topk_group, static_cast<std::int32_t>(g)) == chosen + cfg.topk_group)
            std::fill_n(choice.data() + t * E + g * per_group, per_group, 0.0f);
        }
      kernels::topk(scalar_tag{}, std::as_const(choice).view(), k, out.weights.view(), out.experts.view());
      if (noaux)
        for (std::int64_t t = 0; t < T; ++t)
          for (std::int64_t i = 0; i < k; ++i) out.weights(t, i) = scores(t, out.experts(t, i));
    }
    const float scale = static_cast<float>(cfg.routed_scaling_factor);
    for (std::int64_t t = 0; t < T; ++t) {
      float* w = out.weights.data() + t * k;
      if (k > 1 && cfg.norm_topk_prob) {
        float sum = 0.0f;
        for (std::int64_t i = 0; i < k; ++i) sum += w[i];
        const float denominator = sum + 1e-20f;
        for (std::int64_t i = 0; i < k; ++i) w[i] = w[i] / denominator * scale;
      } else {
        for (std::int64_t i = 0; i < k; ++i) w[i] *= scale;
      }
    }
    return out;
  }

  // x: (T, D) -> y: (T, D); y must not overlap x. `choice`, when given, receives the routing.
  void forward(View<const float, 2> x, View<float, 2> y, ThreadPool& pool, ExpertChoice* choice = nullptr) const {
    const std::int64_t T = x.shape(0), D = cfg.hidden_size, E = cfg.n_routed_experts, k = cfg.num_experts_per_tok;
    ExpertChoice routing = route(x, pool);

    // Counting sort of the (token, slot) pairs by expert, tokens ascending within an expert.
    std::vector<std::int64_t> start(static_cast<std::size_t>(E + 1), 0);
    for (std::int64_t i = 0; i < T * k; ++i) ++start[static_cast<std::size_t>(routing.experts.data()[i]) + 1];
    for (std::int64_t e = 0; e < E; ++e) start[static_cast<std::size_t>(e + 1)] += start[static_cast<std::size_t>(e)];
    std::vector<std::int64_t> fill(start.begin(), start.end() - 1), order(static_cast<std::size_t>(T * k));
    for (std::int64_t i = 0; i < T * k; ++i)
      order[static_cast<std::size_t>(fill[static_cast<std::size_t>(routing.experts.data()[i])]++)] = i;

    if (cfg.n_shared_experts > 0) shared_experts.forward(x, y, pool);
    else for (std::int64_t t = 0; t < T; ++t) std::fill_n(y.data() + t * y.stride(0), D, 0.0f);

    std::int64_t most = 1;  // tokens of the busiest expert
    for (std::int64_t e = 0; e < E; ++e)
      most = std::max(most, start[static_cast<std::size_t>(e + 1)] - start[static_cast<std::size_t>(e)]);
    Tensor<float, 2> rows({most, D}), out({most, D});
    for (std::int64_t e = 0; e < E; ++e) {
      const std::int64_t b = start[static_cast<std::size_t>(e)], n = start[static_cast<std::size_t>(e + 1)] - b;
      if (n == 0) continue;
      for (std::int64_t r = 0; r < n; ++r)
        std::copy_n(x.data() + (order[static_cast<std::size_t>(b + r)] / k) * x.stride(0), D, rows.data() + r * D);
      const auto in = std::as_const(rows).view().slice(0, 0, n);
      experts[static_cast<std::size_t>(e)].forward(in, out.view().slice(0, 0, n), pool);
      for (std::int64_t r = 0; r < n; ++r) {
        const std::int64_t slot = order[static_cast<std::size_t>(b + r)];
        const float w = routing.weights.data()[slot];
        float* dst = y.data() + (slot / k) * y.stride(0);
        const float* src = out.data() + r * D;
        for (std::int64_t d = 0; d < D; ++d) dst[d] += w * src[d];
      }
    }
    if (choice) *choice = std::move(routing);
  }

  DeepseekV2Config cfg;
  nn::Weight<dense_weight_t<P>, 2> gate;
  nn::Weight<dense_weight_t<P>, 1> e_score_correction_bias;
  std::vector<SwiGluMlp<P>> experts;
  SwiGluMlp<P> shared_experts;
};

}  // namespace dsvl::language
