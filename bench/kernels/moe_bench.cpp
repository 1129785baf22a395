// One decode step (one token) through a DeepSeekMoE block of DeepSeek-VL2-Tiny and -Small: the
// router, the 6 chosen of 64 routed experts and the 2 shared ones, q4, q8 and bf16 experts.
// Bytes are the weights a token must read (router, 6 routed and the shared experts); the block
// is memory-bound. Each call takes the next of 64 tokens through the next of enough blocks
// (> 512 MiB of experts in all, above the L3 of the machines we measure) that the experts a call
// reads are not cached from an earlier one.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench.hpp"
#include "weights.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

constexpr double kMinBytes = 512.0 * (1 << 20);
constexpr std::int64_t kTokens = 64;

template <class P>
void add_case(const language::DeepseekV2Config& c, const char* name) {
  using W = typename P::weight_type;
  const std::int64_t D = c.hidden_size, I = c.moe_intermediate_size;
  const double expert = 3 * bench::matrix_bytes<W>(I, D);
  const double block = static_cast<double>(c.n_routed_experts + c.n_shared_experts) * expert;
  const double per_token = static_cast<double>(c.num_experts_per_tok + c.n_shared_experts) * expert +
                           bench::matrix_bytes<dense_weight_t<P>>(c.n_routed_experts, D);
  bench::Case k;
  k.op = "moe";
  k.impl = "hwy";
  k.dtype = bench::weight_dtype<W>();
  k.shape = std::string(name) + ": 1 token, " + std::to_string(c.num_experts_per_tok) + " of " +
            std::to_string(c.n_routed_experts) + " experts + " + std::to_string(c.n_shared_experts) + " shared, " +
            std::to_string(D) + " -> " + std::to_string(I);
  k.flops = 2.0 * D * (3.0 * I * static_cast<double>(c.num_experts_per_tok + c.n_shared_experts) + c.n_routed_experts);
  k.bytes = per_token;
  k.bound = bench::Bound::memory;
  k.threaded = true;
  k.setup = [c, blocks = static_cast<std::int64_t>(std::ceil(kMinBytes / block)), D](ThreadPool& pool) {
    struct State {
      std::vector<language::DeepseekMoE<P>> moe;
      Tensor<float, 2> x, y;
      std::int64_t next = 0;
    };
    // Built once per dtype and shape, reused at every thread count.
    static std::map<std::int64_t, std::shared_ptr<State>> built;
    auto& st = built[D];
    if (!st) {
      st = std::make_shared<State>();
      nn::WeightRandomInit init(7);
      for (std::int64_t b = 0; b < blocks; ++b) {
        st->moe.emplace_back(c);
        st->moe.back().visit(init);
      }
      st->x = Tensor<float, 2>({kTokens, D});
      st->y = Tensor<float, 2>({1, D});
      std::uint32_t s = 12345;
      for (std::int64_t i = 0; i < st->x.size(); ++i) {
        s = s * 1664525u + 1013904223u;
        st->x.data()[i] = static_cast<float>(s >> 8) / 16777216.0f - 0.5f;
      }
    }
    return std::function<void()>([st, &pool] {
      const std::int64_t n = st->next++;
      const auto& moe = st->moe[static_cast<std::size_t>(n % static_cast<std::int64_t>(st->moe.size()))];
      const std::int64_t t = n % kTokens;
      moe.forward(std::as_const(st->x).view().slice(0, t, t + 1), st->y.view(), pool);
      bench::do_not_optimize(st->y.data()[0]);
    });
  };
  bench::registry().push_back(std::move(k));
}

void add_all() {
  for (const auto& [c, name] : {std::pair{language::kDeepSeekVL2TinyLanguage, "VL2-Tiny"},
                                std::pair{language::kDeepSeekVL2SmallLanguage, "VL2-Small"}}) {
    add_case<policies::HwyQ4>(c, name);
    add_case<policies::HwyQ8>(c, name);
    add_case<policies::HwyBF16>(c, name);
  }
}

DSVL_BENCH_REGISTER(add_all());
}  // namespace
