// The row-wise and element-wise kernels against PyTorch: fixtures from
// tools/reference/kernel_rows.py (torch on the CPU in float32). Every policy is checked, the
// scalar reference first.
#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;

#define DSVL_ROW_POLICIES scalar_tag, xsimd_tag<>, hwy_tag

// Tolerance: torch reduces the row with its own vectorised order; rows of up to 64 values of
// scale ~4 round differently by a few ulp of the output: 2e-6 of the output scale. The bf16
// weights are exactly the f32 ones.
TEST_CASE_TEMPLATE("layer_norm matches torch.nn.LayerNorm", Tag, DSVL_ROW_POLICIES) {
  for (const auto& tc : fixture("rows.json").at("layer_norm")) {
    CAPTURE(tc.at("name").get<std::string>());
    const std::int64_t T = tc.at("T"), D = tc.at("D");
    const auto x = floats(tc.at("x")), w = floats(tc.at("weight")), b = floats(tc.at("bias")), want = floats(tc.at("y"));
    const auto run = [&](auto weight_type) {
      using W = decltype(weight_type);
      const auto ws = to_storage<W>(w), bs = to_storage<W>(b);
      std::vector<float> y(x.size());
      kernels::layer_norm(Tag{}, view<const float>(x.data(), {T, D}), view<const W>(ws.data(), {D}),
                          view<const W>(bs.data(), {static_cast<std::int64_t>(bs.size())}), tc.at("eps").get<float>(),
                          view(y.data(), {T, D}));
      DSVL_CHECK_CLOSE(y.data(), want.data(), T * D, 0.0, 2e-6);
    };
    run(float{});
    run(bf16{});
  }
}

TEST_CASE_TEMPLATE("layer_norm2d matches SAM's LayerNorm2d", Tag, DSVL_ROW_POLICIES) {
  for (const auto& tc : fixture("rows.json").at("layer_norm2d")) {
    const std::int64_t C = tc.at("C"), H = tc.at("H"), W = tc.at("W");
    const auto x = floats(tc.at("x"));
    const auto w = to_storage<bf16>(floats(tc.at("weight"))), b = to_storage<bf16>(floats(tc.at("bias")));
    const auto want = floats(tc.at("y"));
    std::vector<float> y(x.size());
    kernels::layer_norm2d(Tag{}, view<const float>(x.data(), {C, H, W}), view<const bf16>(w.data(), {C}),
                          view<const bf16>(b.data(), {C}), tc.at("eps").get<float>(), view(y.data(), {C, H, W}));
    DSVL_CHECK_CLOSE(y.data(), want.data(), C * H * W, 0.0, 2e-6);
  }
}

// Tolerance: torch's exp (Sleef, 1 ulp) and ours differ by up to 2 ulp per entry, the row sums by
// their order: 1e-6 of the row's largest probability. Masked entries and all-masked rows are
// exact zeros in both.
TEST_CASE_TEMPLATE("softmax matches F.softmax with masks", Tag, DSVL_ROW_POLICIES) {
  for (const auto& tc : fixture("rows.json").at("softmax")) {
    CAPTURE(tc.at("name").get<std::string>());
    const std::int64_t R = tc.at("R"), S = tc.at("S");
    auto x = floats(tc.at("x"));
    const auto want = floats(tc.at("y"));
    kernels::softmax(Tag{}, view(x.data(), {R, S}), tc.at("scale").get<float>(),
                     kernels::SoftmaxMask{tc.at("causal_offset").get<std::int64_t>(), tc.at("valid").get<std::int64_t>()});
    for (std::int64_t r = 0; r < R; ++r) {
      DSVL_CHECK_CLOSE(x.data() + r * S, want.data() + r * S, S, 0.0, 1e-6);
      for (std::int64_t s = 0; s < S; ++s)
        if (want[r * S + s] == 0.0f) CHECK(x[r * S + s] == 0.0f);
    }
  }
}

// Tolerance, relative to the largest |output| (8): torch's vectorised erf, tanh and exp and ours
// each err by a few 1e-7 absolute near +-1, scaled by 0.5 |x| <= 4: 1e-6 of the scale.
TEST_CASE_TEMPLATE("activations match F.gelu, F.silu and SwiGLU", Tag, DSVL_ROW_POLICIES) {
  const auto& tc = fixture("rows.json").at("activations");
  const auto x = floats(tc.at("x")), up = floats(tc.at("up"));
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  const auto xv = view<const float>(x.data(), {1, n});
  std::vector<float> y(x.size());
  const auto yv = view(y.data(), {1, n});
  kernels::gelu_erf(Tag{}, xv, yv);
  DSVL_CHECK_CLOSE(y.data(), floats(tc.at("gelu_erf")).data(), n, 0.0, 1e-6);
  kernels::gelu_tanh(Tag{}, xv, yv);
  DSVL_CHECK_CLOSE(y.data(), floats(tc.at("gelu_tanh")).data(), n, 0.0, 1e-6);
  kernels::silu(Tag{}, xv, yv);
  DSVL_CHECK_CLOSE(y.data(), floats(tc.at("silu")).data(), n, 0.0, 1e-6);
  kernels::swiglu(Tag{}, xv, view<const float>(up.data(), {1, n}), yv);
  DSVL_CHECK_CLOSE(y.data(), floats(tc.at("swiglu")).data(), n, 0.0, 1e-6);
}

// Tolerance: the tables take cos and sin of the same f32 angle, so they differ by the 1 ulp of
// the two libms (6e-8); the rotation then adds one rounding per product, with |x| < 5:
// 1e-6 absolute.
TEST_CASE_TEMPLATE("rope_half matches transformers' LLaMA rotate_half", Tag, DSVL_ROW_POLICIES) {
  for (const auto& tc : fixture("rows.json").at("rope_half")) {
    const auto positions = tc.at("positions").get<std::vector<std::int32_t>>();
    const std::int64_t T = static_cast<std::int64_t>(positions.size()), H = tc.at("H"), Dh = tc.at("Dh");
    CAPTURE(Dh);
    Tensor<float, 2> cos({T, Dh / 2}), sin({T, Dh / 2});
    kernels::rope_cos_sin(view<const std::int32_t>(positions.data(), {T}), tc.at("theta").get<float>(), Dh, cos.view(),
                          sin.view());
    DSVL_CHECK_CLOSE(cos.data(), floats(tc.at("cos")).data(), cos.size(), 1.2e-7, 0.0);
    DSVL_CHECK_CLOSE(sin.data(), floats(tc.at("sin")).data(), sin.size(), 1.2e-7, 0.0);
    auto x = floats(tc.at("x"));
    kernels::rope_half(Tag{}, view(x.data(), {T, H, Dh}), std::as_const(cos).view(), std::as_const(sin).view());
    DSVL_CHECK_CLOSE(x.data(), floats(tc.at("y")).data(), T * H * Dh, 1e-6, 0.0);
  }
}

// DeepSeek-V2's apply_rotary_pos_emb leaves the head de-interleaved ([evens, odds]); rope_interleaved
// keeps the pairs in place, so its output is compared after that permutation (spec.md 5.4).
TEST_CASE_TEMPLATE("rope_interleaved matches DeepSeek-V2's apply_rotary_pos_emb up to its permutation", Tag,
                   DSVL_ROW_POLICIES) {
  for (const auto& tc : fixture("rows.json").at("rope_interleaved")) {
    const auto positions = tc.at("positions").get<std::vector<std::int32_t>>();
    const std::int64_t T = static_cast<std::int64_t>(positions.size()), H = tc.at("H"), Dh = tc.at("Dh"), half = Dh / 2;
    Tensor<float, 2> cos({T, half}), sin({T, half});
    kernels::rope_cos_sin(view<const std::int32_t>(positions.data(), {T}), tc.at("theta").get<float>(), Dh, cos.view(),
                          sin.view());
    auto x = floats(tc.at("x"));
    kernels::rope_interleaved(Tag{}, view(x.data(), {T, H, Dh}), std::as_const(cos).view(), std::as_const(sin).view());
    std::vector<float> got(x.size());
    for (std::int64_t r = 0; r < T * H; ++r)
      for (std::int64_t j = 0; j < half; ++j) {
        got[r * Dh + j] = x[r * Dh + 2 * j];
        got[r * Dh + half + j] = x[r * Dh + 2 * j + 1];
      }
    DSVL_CHECK_CLOSE(got.data(), floats(tc.at("y_deinterleaved")).data(), T * H * Dh, 1e-6, 0.0);
  }
}
