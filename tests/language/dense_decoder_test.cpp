// The LLaMA decoder against transformers (tests/data/llama/, written by
// tools/reference/llama_decoder.py): per-layer hidden states, the final norm, logits, 32 greedy
// tokens, the KV cache against full recomputes, two-turn cache reuse, and the loader's errors;
// under the scalar, xsimd and Highway policies with f32 and bf16 weights; with q8 and q4 weights,
// the logits' distance from the reference (check_quantized). Also the language model
// inside the tiny DeepSeek-VL v1 checkpoints of tests/data/deepseek_vl/ against the official code.
//
// Tolerances. The reference computes in f32 as dsvl does, so the two differ only by the order of
// f32 additions (and the ulps of exp and rsqrt). Measured: max |error| / max |reference| is below
// 7e-7 for every layer's hidden state, the final norm, the logits and turn 2's logits, under every
// policy and both weight types (the test prints the figures). The check allows 1e-4 relative to
// the largest reference value of each tensor: a margin of over 100x, and still
// 1e-4 * max |logit| < 1e-3. Cached decode steps against full recomputes: 0 for the scalar
// policy (the same additions in the same order), below 7e-7 for the SIMD ones (gemv for one row,
// gemm for many).
// bf16 weights: the loader rounds the f32 checkpoint to bf16 (nearest even), as torch's
// .to(bfloat16) does, and the kernels widen them exactly, so dsvl with bf16 weights computes the
// same function as the reference model whose weights were rounded the same way (the "bf16."
// tensors); the same f32 tolerance applies. Greedy decoding: the fixture's smallest gap between
// the best and second-best logit over the 32 steps is at least 2e-3 (recorded in its metadata),
// far above the f32 error, so the token sequences must be identical.

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "dsvl/dsvl.hpp"
#include "dsvl/language/dense_decoder.hpp"
#include "dsvl/language/llama_config.hpp"
#include "reference_fixture.hpp"

using namespace dsvl;
using namespace dsvl::language;
using dsvl::test::argmax;
using dsvl::test::relative_error;
using dsvl::test::weight_name;
namespace fs = std::filesystem;

namespace {

constexpr double kRelTol = 1e-4;

fs::path fixture_dir(const std::string& variant) { return fs::path(DSVL_TEST_DATA_DIR) / "llama" / variant; }

struct Reference {
  io::SafeTensorsFile file;
  explicit Reference(const std::string& variant) : file(fixture_dir(variant) / "reference.safetensors") {}
  Tensor<float, 2> f32(const std::string& name) const { return io::read_f32<2>(file.info(name)); }
  std::vector<std::int32_t> ids(const std::string& name) const {
    const auto v = file.view<std::int32_t, 1>(name);
    return {v.data(), v.data() + v.shape(0)};
  }
};


template <class P>
DenseDecoder<P> load_decoder(const std::string& variant, const io::Checkpoint& ckpt) {
  DenseDecoder<P> dec(read_llama_config(fixture_dir(variant) / "config.json"));
  dec.load(ckpt);
  return dec;
}

template <class P>
void check_fixture(const std::string& variant) {
  const std::string pre = std::is_same_v<typename P::weight_type, bf16> ? "bf16." : "";
  const std::string label = variant + " [" + std::string(P::kernel_tag::name) + ", " +
                            weight_name<typename P::weight_type>() + " weights]";
  const Reference ref(variant);
  const auto ckpt = io::Checkpoint::open(fixture_dir(variant));
  const DenseDecoder<P> dec0 = load_decoder<P>(variant, ckpt);
  DenseDecoder<P> dec = load_decoder<P>(variant, ckpt);
  const auto& cfg = dec.config();
  const std::int64_t V = cfg.vocab_size;
  ThreadPool pool(3);

  // Prefill: every layer, the norm and all logits.
  const auto ids = ref.ids("input_ids");
  const std::int64_t T = static_cast<std::int64_t>(ids.size());
  std::map<std::string, Tensor<float, 2>> seen;
  const auto tracer = [&](std::string_view name, std::int64_t layer, View<const float, 2> value) {
    Tensor<float, 2> copy({value.shape(0), value.shape(1)});
    for (std::int64_t i = 0; i < value.shape(0); ++i)
      for (std::int64_t j = 0; j < value.shape(1); ++j) copy(i, j) = value(i, j);
    seen[layer >= 0 ? std::string(name) + "." + std::to_string(layer) : std::string(name)] = std::move(copy);
  };
  KvCache cache = dec.make_cache(T + 40);
  const auto logits = dec.forward_ids(ids, cache, LogitRows::all, pool, tracer);
  CHECK(cache.size() == T);
  double worst_hidden = 0;
  for (std::int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
    const std::string name = "layer." + std::to_string(l);
    REQUIRE(seen.count(name));
    const double e = relative_error(seen[name].view(), ref.f32(pre + name).view());
    worst_hidden = std::max(worst_hidden, e);
    INFO(label << " " << name << ": relative error " << e);
    CHECK(e <= kRelTol);
  }
  const double e_norm = relative_error(seen["norm"].view(), ref.f32(pre + "norm").view());
  const double e_logits = relative_error(logits.view(), ref.f32(pre + "logits").view());
  MESSAGE(label, ": relative error of hidden states ", worst_hidden, ", norm ", e_norm, ", logits ", e_logits);
  CHECK(e_norm <= kRelTol);
  CHECK(e_logits <= kRelTol);

  // Only the last row: the same values as the last row of the full logits.
  {
    KvCache c2 = dec.make_cache(T);
    const auto last = dec.forward_ids(ids, c2, LogitRows::last, pool);
    REQUIRE(last.shape(0) == 1);
    const auto want_last = logits.view().slice(0, T - 1, T);
    CHECK(relative_error(last.view(), want_last) <= 1e-6);
  }

  // Greedy decoding with the cache: 32 tokens equal to transformers' generate.
  const auto want_ids = ref.ids(pre + "greedy_ids");
  std::vector<std::int32_t> seq = ids, got_ids;
  std::int32_t next = argmax(logits.data() + (T - 1) * V, V);
  double worst_step = 0;
  for (std::size_t step = 0; step < want_ids.size(); ++step) {
    got_ids.push_back(next);
    seq.push_back(next);
    const auto step_logits = dec.forward_ids(std::span<const std::int32_t>(&next, 1), cache, LogitRows::all, pool);
    if (step % 8 == 7) {
      // The cached step equals the last row of a full recompute over the whole sequence.
      KvCache fresh = dec0.make_cache(static_cast<std::int64_t>(seq.size()));
      const auto full = dec0.forward_ids(seq, fresh, LogitRows::last, pool);
      worst_step = std::max(worst_step, relative_error(step_logits.view(), full.view()));
    }
    next = argmax(step_logits.data(), V);
  }
  CHECK(got_ids == want_ids);
  CHECK(cache.size() == T + static_cast<std::int64_t>(want_ids.size()));
  MESSAGE(label, ": cached decode steps vs full recomputes, relative error ", worst_step);
  CHECK(worst_step <= kRelTol);

  // Two turns: turn 2 on the cache of turn 1, then again after truncating back to turn 1.
  const auto turn1 = ref.ids("turn1_ids"), turn2 = ref.ids("turn2_ids");
  const auto want2 = ref.f32(pre + "turn2_logits");
  cache.clear();
  dec.forward_ids(turn1, cache, LogitRows::last, pool);
  const auto got2 = dec.forward_ids(turn2, cache, LogitRows::all, pool);
  const double e_turn2 = relative_error(got2.view(), want2.view());
  MESSAGE(label, ": turn 2 on the cache of turn 1, relative error ", e_turn2);
  CHECK(e_turn2 <= kRelTol);
  cache.truncate(static_cast<std::int64_t>(turn1.size()));
  const auto again = dec.forward_ids(turn2, cache, LogitRows::all, pool);
  CHECK(relative_error(again.view(), got2.view()) == 0.0);
}

template <class P>
void check_both_variants() {
  check_fixture<P>("gqa");
  check_fixture<P>("mha");
}

// A quantized policy against the f32 reference. Its weights differ from the checkpoint's by up to
// half a step (q8: max|w| / 254 in each group of 32; q4: max|w| / 16), and the SIMD decode path
// also rounds activations to int8, so the logits differ by about that relative amount (the test
// prints the figures); the bounds are about 2-3x the measured ones. Top-1 agreement counts the
// prefill rows whose best token is the reference's; cached decode steps (gemv) are compared with
// full recomputes (gemm) of the same quantized model. Under hwy on x86 both round activations to
// int8 per group; a GEMM with f32 activations (other targets) differs from the GEMV by about the
// rounding (measured 0.016-0.024 when x86 had one). Measured (max |error| / max |reference|,
// scalar / hwy on AVX2): q8 logits 0.012-0.013 / 0.016-0.022, top-1 22/22, decode steps 5e-7 /
// 3e-7; q4 logits 0.14-0.16 / 0.14-0.15, top-1 18/22.
// These tiny models have Gaussian random weights, which nothing in an untrained network damps the
// rounding of; docs/quantization.md has the demo model's task accuracy.
template <class P>
void check_quantized(const std::string& variant, double tol_logits, double min_top1, double tol_steps) {
  const std::string label = variant + " [" + std::string(P::kernel_tag::name) + ", " +
                            weight_name<typename P::weight_type>() + " weights]";
  const Reference ref(variant);
  const auto ckpt = io::Checkpoint::open(fixture_dir(variant));
  const DenseDecoder<P> dec = load_decoder<P>(variant, ckpt);
  const std::int64_t V = dec.config().vocab_size;
  ThreadPool pool(2);
  const auto ids = ref.ids("input_ids");
  const std::int64_t T = static_cast<std::int64_t>(ids.size());
  KvCache cache = dec.make_cache(T + 16);
  const auto logits = dec.forward_ids(ids, cache, LogitRows::all, pool);
  const auto want = ref.f32("logits");
  const double e_logits = relative_error(logits.view(), want.view());
  std::int64_t agree = 0;
  for (std::int64_t t = 0; t < T; ++t) agree += argmax(logits.data() + t * V, V) == argmax(want.data() + t * V, V);
  const double top1 = static_cast<double>(agree) / static_cast<double>(T);
  std::vector<std::int32_t> seq = ids;
  std::int32_t next = argmax(logits.data() + (T - 1) * V, V);
  double worst_step = 0;
  for (int step = 0; step < 8; ++step) {
    seq.push_back(next);
    const auto step_logits = dec.forward_ids(std::span<const std::int32_t>(&next, 1), cache, LogitRows::all, pool);
    KvCache fresh = dec.make_cache(static_cast<std::int64_t>(seq.size()));
    const auto full = dec.forward_ids(seq, fresh, LogitRows::last, pool);
    worst_step = std::max(worst_step, relative_error(step_logits.view(), full.view()));
    next = argmax(step_logits.data(), V);
  }
  MESSAGE(label, ": logits relative error ", e_logits, ", top-1 agreement ", agree, "/", T,
          "; cached decode steps vs full recomputes ", worst_step);
  CHECK(e_logits <= tol_logits);
  CHECK(top1 >= min_top1);
  CHECK(worst_step <= tol_steps);
}

// A bf16 KV cache against the f32 one on the same model: prefill and 8 greedy decode steps. Keys
// and values are rounded to 8 significant bits when written (relative error up to 2^-9 each),
// which moves the logits by 2-3e-3 of their largest (measured, printed); the bound is ~4x that.
template <class P>
void check_bf16_cache(const std::string& variant) {
  const std::string label = variant + " [" + std::string(P::kernel_tag::name) + "]";
  const auto ckpt = io::Checkpoint::open(fixture_dir(variant));
  const DenseDecoder<P> dec = load_decoder<P>(variant, ckpt);
  const std::int64_t V = dec.config().vocab_size;
  ThreadPool pool(2);
  const auto ids = Reference(variant).ids("input_ids");
  const std::int64_t T = static_cast<std::int64_t>(ids.size());
  KvCache exact = dec.make_cache(T + 8), rounded = dec.make_cache(T + 8, DType::bf16);
  CHECK(rounded.dtype() == DType::bf16);
  CHECK(2 * rounded.bytes() == exact.bytes());
  auto want = dec.forward_ids(ids, exact, LogitRows::all, pool);
  auto got = dec.forward_ids(ids, rounded, LogitRows::all, pool);
  double worst = relative_error(got.view(), want.view());
  std::int32_t next = argmax(want.data() + (T - 1) * V, V);
  for (int step = 0; step < 8; ++step) {
    want = dec.forward_ids(std::span<const std::int32_t>(&next, 1), exact, LogitRows::all, pool);
    got = dec.forward_ids(std::span<const std::int32_t>(&next, 1), rounded, LogitRows::all, pool);
    worst = std::max(worst, relative_error(got.view(), want.view()));
    next = argmax(want.data(), V);
  }
  MESSAGE(label, ": bf16 KV cache vs f32, prefill and 8 decode steps, relative error ", worst);
  CHECK(worst <= 1e-2);
}

template <class P>
void check_quantized_variants(double tol_logits, double min_top1, double tol_steps) {
  check_quantized<P>("gqa", tol_logits, min_top1, tol_steps);
  check_quantized<P>("mha", tol_logits, min_top1, tol_steps);
}

}  // namespace

TEST_CASE("LlamaConfig: the fixtures' config.json") {
  const auto c = read_llama_config(fixture_dir("gqa") / "config.json");
  CHECK(c.hidden_size == 64);
  CHECK(c.intermediate_size == 172);
  CHECK(c.num_hidden_layers == 3);
  CHECK(c.num_attention_heads == 4);
  CHECK(c.num_key_value_heads == 2);
  CHECK(c.head_dim() == 16);
  CHECK(c.rms_norm_eps == 1e-6);
  CHECK(c.rope_theta == 10000.0);  // from rope_parameters (transformers 5)
  CHECK(c.vocab_size == 300);
  CHECK(c.max_position_embeddings == 128);
  CHECK_FALSE(c.tie_word_embeddings);
  const auto m = read_llama_config(fixture_dir("mha") / "config.json");
  CHECK(m.num_key_value_heads == 4);
  CHECK(differences(c, m) == std::vector<std::string>{"num_hidden_layers: 3 vs 2", "num_key_value_heads: 2 vs 4"});
}

TEST_CASE("LlamaConfig: a DeepSeek-VL v1 language_config with LlamaConfig defaults") {
  const auto j = nlohmann::json::parse(R"({"language_config": {"hidden_size": 2048, "intermediate_size": 5632,
      "num_hidden_layers": 24, "num_attention_heads": 16, "vocab_size": 102400, "max_position_embeddings": 16384,
      "rms_norm_eps": 1e-06, "model_type": "llama", "torch_dtype": "bfloat16"}, "model_type": "multi_modality"})");
  const auto c = parse_llama_config(j, "config.json", "language_config/");
  CHECK(c == kDeepSeekVL1_3BLanguage);
  CHECK(differences(c, kDeepSeekVL1_3BLanguage).empty());
  std::ostringstream os;
  os << c;
  CHECK(os.str().find("num_key_value_heads=16") != std::string::npos);
}

namespace {
template <LlamaConfig C>
constexpr std::int64_t fixed_head_dim() {
  return C.head_dim();
}
}  // namespace

TEST_CASE("LlamaConfig is a structural type: presets as template arguments") {
  static_assert(fixed_head_dim<kDeepSeekVL7BLanguage>() == 128);
  static_assert(fixed_head_dim<kDeepSeekVL1_3BLanguage>() == 128);
}

TEST_CASE("LlamaConfig: errors name the field") {
  const auto base = nlohmann::json::parse(R"({"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 2,
      "num_attention_heads": 4, "vocab_size": 300})");
  CHECK(parse_llama_config(base, "c.json").num_key_value_heads == 4);
  const auto with = [&](const char* key, nlohmann::json value) {
    auto j = base;
    if (value.is_discarded()) j.erase(key);
    else j[key] = value;
    return j;
  };
  const auto fails_with = [&](const nlohmann::json& j, const std::string& text) {
    CHECK_THROWS_WITH_AS(parse_llama_config(j, "c.json"), doctest::Contains(text.c_str()), dsvl::Error);
  };
  fails_with(with("hidden_size", "64"), "field 'hidden_size' is a string");
  fails_with(with("hidden_act", "gelu"), "'hidden_act' is \"gelu\"");
  fails_with(with("num_key_value_heads", 3), "not a multiple of 'num_key_value_heads'");
  fails_with(with("attention_bias", true), "'attention_bias' is true");
  fails_with(with("rope_scaling", nlohmann::json{{"type", "linear"}, {"factor", 2.0}}), "'rope_scaling' is set");
  fails_with(with("head_dim", 32), "'head_dim' = 32");
  fails_with(with("rope_parameters", nlohmann::json{{"rope_type", "yarn"}}), "'rope_parameters/rope_type' is \"yarn\"");
}

TEST_CASE("LlamaConfig: absent sizes are transformers' LlamaConfig defaults") {
  // Janus-Pro-7B's language_config names only max_position_embeddings, num_hidden_layers and
  // vocab_size of the sizes.
  const auto j = nlohmann::json::parse(R"({"language_config": {"max_position_embeddings": 16384, "model_type": "llama",
      "num_hidden_layers": 30, "torch_dtype": "bfloat16", "vocab_size": 102400}})");
  CHECK(parse_llama_config(j, "config.json", "language_config/") == kDeepSeekVL7BLanguage);
  const auto defaults = parse_llama_config(nlohmann::json{{"language_config", nlohmann::json::object()}}, "config.json",
                                           "language_config/");
  CHECK(defaults == LlamaConfig{4096, 11008, 32, 32, 32, 1e-6, 10000.0, 32000, 2048, false});
}

TEST_CASE("DenseDecoder matches transformers (scalar, f32 weights)") { check_both_variants<policies::ScalarF32>(); }
TEST_CASE("DenseDecoder matches transformers (xsimd, f32 weights)") { check_both_variants<policies::XsimdF32>(); }
TEST_CASE("DenseDecoder matches transformers (hwy, f32 weights)") { check_both_variants<policies::HwyF32>(); }
TEST_CASE("DenseDecoder matches transformers (scalar, bf16 weights)") { check_both_variants<policies::ScalarBF16>(); }
TEST_CASE("DenseDecoder matches transformers (xsimd, bf16 weights)") { check_both_variants<policies::XsimdBF16>(); }
TEST_CASE("DenseDecoder matches transformers (hwy, bf16 weights)") { check_both_variants<policies::HwyBF16>(); }
TEST_CASE("DenseDecoder with q8 weights stays close to transformers (scalar, hwy)") {
  check_quantized_variants<policies::ScalarQ8>(0.04, 0.9, 1e-4);
  check_quantized_variants<policies::HwyQ8>(0.04, 0.9, 0.075);
}
TEST_CASE("DenseDecoder with q4 weights stays close to transformers (scalar, hwy)") {
  check_quantized_variants<policies::ScalarQ4>(0.45, 0.6, 1e-4);
  check_quantized_variants<policies::HwyQ4>(0.45, 0.6, 0.06);
}

TEST_CASE("DenseDecoder with a bf16 KV cache stays close to the f32 cache (scalar, xsimd, hwy)") {
  for (const char* variant : {"gqa", "mha"}) {
    check_bf16_cache<policies::ScalarF32>(variant);
    check_bf16_cache<policies::XsimdF32>(variant);
    check_bf16_cache<policies::HwyF32>(variant);
  }
}

TEST_CASE("DenseDecoder: weights declared once, with the Hugging Face names") {
  const auto cfg = read_llama_config(fixture_dir("gqa") / "config.json");
  DenseDecoder<policies::HwyF32> dec(cfg);
  nn::WeightNames names;
  dec.visit(names);
  REQUIRE(names.entries.size() == 3 + 9 * 3);
  CHECK(names.entries.front().name == "model.embed_tokens.weight");
  CHECK(names.entries[1].name == "model.layers.0.input_layernorm.weight");
  CHECK(names.entries[2].name == "model.layers.0.self_attn.q_proj.weight");
  CHECK(names.entries.back().name == "lm_head.weight");
  nn::WeightCount count;
  dec.visit(count);
  const auto ckpt = io::Checkpoint::open(fixture_dir("gqa"));
  std::int64_t in_file = 0;
  for (auto n : ckpt.names()) in_file += ckpt.info(n).numel();
  CHECK(count.count == in_file);
}

TEST_CASE("DenseDecoder: a missing or misshapen tensor is a named loader error") {
  const auto ckpt = io::Checkpoint::open(fixture_dir("mha"));
  io::SafeTensorsWriter out;
  for (auto name : ckpt.names()) {
    if (name == "model.layers.1.mlp.up_proj.weight") continue;  // missing
    if (name == "model.norm.weight") {                           // misshapen
      Tensor<float, 1> wrong({63});
      out.add(std::string(name), wrong);
      continue;
    }
    if (ckpt.info(name).rank() == 1) out.add(std::string(name), io::read_f32<1>(ckpt.info(name)));
    else out.add(std::string(name), io::read_f32<2>(ckpt.info(name)));
  }
  const fs::path path = fs::temp_directory_path() / ("dsvl_llama_" + std::to_string(::getpid()) + ".safetensors");
  out.write(path);
  const auto broken = io::Checkpoint::open(path);
  DenseDecoder<policies::ScalarF32> dec(read_llama_config(fixture_dir("mha") / "config.json"));
  try {
    dec.load(broken);
    FAIL("load did not throw");
  } catch (const dsvl::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("missing tensor 'model.layers.1.mlp.up_proj.weight' [172, 64]") != std::string::npos);
    CHECK(msg.find("tensor 'model.norm.weight' has shape [63], expected [64]") != std::string::npos);
  }
  fs::remove(path);
}

namespace {
// The v1 end-to-end reference also holds F64 and U8 tensors, which io::SafeTensorsFile refuses:
// this reads the F32 and I64 ones straight from the file.
struct RawReference {
  std::string bytes;
  nlohmann::json header;
  std::size_t data_begin = 0;
  explicit RawReference(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "missing " << path);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    header = nlohmann::json::parse(bytes.substr(8, n));
    data_begin = 8 + n;
  }
  const char* data(const std::string& name, const char* dtype, std::vector<std::int64_t>& shape) const {
    const auto& e = header.at(name);
    REQUIRE(e.at("dtype") == dtype);
    shape = e.at("shape").get<std::vector<std::int64_t>>();
    return bytes.data() + data_begin + e.at("data_offsets")[0].get<std::size_t>();
  }
  Tensor<float, 2> f32(const std::string& name) const {
    std::vector<std::int64_t> shape;
    const char* p = data(name, "F32", shape);
    REQUIRE(shape.size() == 2);
    Tensor<float, 2> t({shape[0], shape[1]});
    std::memcpy(t.data(), p, sizeof(float) * static_cast<std::size_t>(t.size()));
    return t;
  }
  std::vector<std::int64_t> i64(const std::string& name) const {
    std::vector<std::int64_t> shape;
    const char* p = data(name, "I64", shape);
    REQUIRE(shape.size() == 1);
    std::vector<std::int64_t> v(static_cast<std::size_t>(shape[0]));
    std::memcpy(v.data(), p, sizeof(std::int64_t) * v.size());
    return v;
  }
};
}  // namespace

// tests/data/deepseek_vl/<model> (tools/reference/deepseek_vl_v1.py): a whole VLM in the official
// format (1.3B and 7B architectures); its reference holds the merged input embeddings of one
// prompt with an image and the language model's per-layer states, final norm, logits at some
// positions and the greedy continuation.
static void check_v1_language(const std::string& model) {
  const fs::path dir = fs::path(DSVL_TEST_DATA_DIR) / "deepseek_vl" / model;
  const auto cfg = read_llama_config(dir / "config.json");  // its "language_config"
  const auto ckpt = io::Checkpoint::open(dir);
  DenseDecoder<policies::HwyF32> dec(cfg);
  dec.load(ckpt, "language_model.");
  const RawReference ref(dir / "reference.safetensors");
  const auto embeds = ref.f32("one_image.inputs_embeds");
  const std::int64_t T = embeds.shape(0), V = cfg.vocab_size;
  std::map<std::string, Tensor<float, 2>> seen;
  const auto tracer = [&](std::string_view name, std::int64_t layer, View<const float, 2> value) {
    Tensor<float, 2> copy({value.shape(0), value.shape(1)});
    std::copy_n(value.data(), value.size(), copy.data());
    seen[layer >= 0 ? std::string(name) + "." + std::to_string(layer) : std::string(name)] = std::move(copy);
  };
  KvCache cache = dec.make_cache(T + 32);
  const auto logits = dec.forward(embeds.view(), cache, LogitRows::all, ThreadPool::global(), tracer);
  for (std::int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
    const std::string name = "layer." + std::to_string(l);
    const double e = relative_error(seen[name].view(), ref.f32("one_image.language." + name).view());
    INFO(name << ": relative error " << e);
    CHECK(e <= kRelTol);
  }
  CHECK(relative_error(seen["norm"].view(), ref.f32("one_image.language.norm").view()) <= kRelTol);
  const auto positions = ref.i64("one_image.logits_positions");
  const auto want = ref.f32("one_image.logits");
  Tensor<float, 2> got({static_cast<std::int64_t>(positions.size()), V});
  for (std::size_t i = 0; i < positions.size(); ++i)
    std::copy_n(logits.data() + positions[i] * V, V, got.data() + static_cast<std::int64_t>(i) * V);
  const double e_logits = relative_error(got.view(), want.view());
  MESSAGE("DeepSeek-VL v1 ", model, " language model: relative logit error ", e_logits);
  CHECK(e_logits <= kRelTol);

  // The greedy continuation on the cache.
  const auto greedy = ref.i64("one_image.greedy_ids");
  std::int32_t next = argmax(logits.data() + (T - 1) * V, V);
  std::size_t same = 0;
  for (; same < greedy.size() && next == greedy[same]; ++same) {
    const auto step = dec.forward_ids(std::span<const std::int32_t>(&next, 1), cache);
    next = argmax(step.data(), V);
  }
  CHECK(same == greedy.size());
}

TEST_CASE("DenseDecoder: the language model of DeepSeek-VL v1 checkpoints, against the official code") {
  check_v1_language("tiny-siglip");
  check_v1_language("tiny-hybrid");
}
