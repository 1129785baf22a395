#pragma once
// The model shell: any model directory of a generation in the registry (models/registry.hpp),
// opened at run time and driven without naming its generation or its policies.
//
//   auto model = dsvl::models::open_model(dir);                 // weights as stored, Highway kernels
//   auto prompt = model.encode(Request::ask("Describe this image.", {RequestImage::from_file(png)}));
//   model.generate(prompt, {.max_new_tokens = 256}, [&](std::int32_t id) { ...; return true; });
//
// A request goes through the generation's processor (ModelInputs), the vision side (image
// embeddings), the token embeddings with the image rows written in (inputs_embeds), then the
// language model: prefill, decode steps, generate, or a Chat that keeps its KV cache between turns.
// Every step calls the composed model type (DeepSeekVL<P, ...>, DeepSeekVL2<P, ...>) of the
// generation, so the results are bit-identical to the compile-time route with the same policies.
//
// Policies: the kernels are Highway's for the target the program was compiled for; the weight
// storage comes from ModelOptions (the checkpoint's own by default). A quantized vision side needs
// a quantized language model, which keeps the number of model types built down.
//
// Needs dsvl::image (requests may name image files).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The shell runs Highway's kernels; their backend comes before every block header.
#include "dsvl/policy/hwy.hpp"

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/checkpoint.hpp"
#include "dsvl/io/output.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/language/dense_decoder.hpp"
#include "dsvl/language/generate.hpp"
#include "dsvl/language/kv_cache.hpp"
#include "dsvl/language/sampler.hpp"
#include "dsvl/models/model_inputs.hpp"
#include "dsvl/models/registry.hpp"
#include "dsvl/models/weight_format.hpp"
#include "dsvl/models/request.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/preprocess.hpp"

namespace dsvl::models {

using language::KvCache;

struct ModelOptions {
  // The language model's matrices. automatic: the format a checkpoint written by save_weights
  // records, else the dtype of the checkpoint's largest tensor (f32 or bf16, read in place).
  // q8 or q4 quantize a float checkpoint at load.
  WeightFormat weights = WeightFormat::automatic;
  // The vision side's matrices (towers, aligner or projector). automatic: as stored quantized,
  // else the language model's float type (bf16 under q8 or q4). q8 or q4 need weights q8 or q4.
  WeightFormat vision_weights = WeightFormat::automatic;
  // The Pillow release whose bicubic resampling the processor reproduces.
  vision::PillowVersion pillow = vision::kDefaultPillowVersion;
  // Read every page of the checkpoint at open when the weights are read in place, so that the
  // first forward pass does not pay for it (a format quantized at load reads each tensor once
  // anyway). on_prefetch, if set, is called with the bytes read so far and the total.
  bool prefetch = false;
  std::function<void(std::size_t done, std::size_t total)> on_prefetch;
};

// A prompt ready for the language model.
struct Prompt {
  ModelInputs inputs;
  Tensor<float, 2> image_embeds;   // (image tokens, D): the rows written over the image tokens
  Tensor<float, 2> inputs_embeds;  // (T, D)
};

struct GenerateOptions {
  std::int64_t max_new_tokens = 512;
  language::SamplingConfig sampling{};  // greedy by default (no-repeat n-gram rule off)
  DType kv_cache = DType::f32;          // the KV cache's elements, f32 or bf16
  bool stop_at_eos = true;              // off: no stop id ends the reply
  language::LoopDetection loop{};       // on by default: a reply that loops ends (StopReason::loop)
};

// The sizes generation needs of a language model.
struct LanguageModelSizes {
  std::int64_t hidden_size = 0;
  std::int64_t vocab_size = 0;
  std::int64_t max_position_embeddings = 0;
};

class Model;

// Whether `dir` holds a checkpoint that dsvl wrote (Model::save, write_random_model: metadata keys
// "dsvl.*" in model.safetensors), which a new one may replace.
inline bool written_by_dsvl(const std::filesystem::path& dir) {
  try {
    const io::SafeTensorsFile f(dir / "model.safetensors");
    return std::any_of(f.metadata().begin(), f.metadata().end(), [](const auto& kv) { return kv.first.starts_with("dsvl."); });
  } catch (const Error&) {
    return false;
  }
}

// A model directory and its files: the inputs that an output must not replace (io::refuse_input).
inline std::vector<std::filesystem::path> model_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files{dir};
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) files.push_back(e.path());
  return files;
}

namespace detail {

// What the shell calls on a generation's model and processor (ModelOf below).
class ErasedModel {
 public:
  virtual ~ErasedModel() = default;
  virtual ModelInputs process(const Request& request, ThreadPool& pool) const = 0;
  virtual Tensor<float, 2> encode_images(const ModelInputs& inputs, ThreadPool& pool) const = 0;
  virtual Tensor<float, 2> embed(const ModelInputs& inputs, View<const float, 2> image_embeds) const = 0;
  virtual void embed_ids(std::span<const std::int32_t> ids, View<float, 2> out) const = 0;
  virtual KvCache make_cache(std::int64_t max_positions, DType dtype) const = 0;
  virtual void forward(View<const float, 2> x, KvCache& cache, View<float, 2> logits, ThreadPool& pool) const = 0;
  virtual std::vector<std::int32_t> stop_ids() const = 0;
  virtual const io::Tokenizer& tokenizer() const = 0;
  virtual void save_weights(io::SafeTensorsWriter& out) = 0;
  virtual std::int64_t parameter_count() = 0;

  std::string_view generation;
  std::filesystem::path directory;
  WeightFormat weights = WeightFormat::automatic, vision_weights = WeightFormat::automatic;
  LanguageModelSizes sizes;
};

}  // namespace detail

// The language model of a Model, as language::generate and language::ChatSession take it
// (language::CausalDecoder).
class LanguageModel {
 public:
  explicit LanguageModel(const detail::ErasedModel& m) : m_(&m) {}

  const LanguageModelSizes& config() const noexcept { return m_->sizes; }
  void embed(std::span<const std::int32_t> ids, View<float, 2> out) const { m_->embed_ids(ids, out); }
  Tensor<float, 2> embed(std::span<const std::int32_t> ids) const {
    Tensor<float, 2> out({static_cast<std::int64_t>(ids.size()), m_->sizes.hidden_size});
    embed(ids, out.view());
    return out;
  }
  // Errors: more positions than max_position_embeddings.
  KvCache make_cache(std::int64_t max_positions, DType dtype = DType::f32) const {
    DSVL_CHECK(max_positions >= 1 && max_positions <= m_->sizes.max_position_embeddings, "Model::make_cache",
               "a cache of ", max_positions, " positions; the model takes 1 to max_position_embeddings = ",
               m_->sizes.max_position_embeddings);
    return m_->make_cache(max_positions, dtype);
  }
  // As the decoders' forward: x (T, D) after the cached tokens; logits (T, V) or (1, V).
  void forward(View<const float, 2> x, KvCache& cache, View<float, 2> logits,
               ThreadPool& pool = ThreadPool::global()) const {
    m_->forward(x, cache, logits, pool);
  }
  Tensor<float, 2> forward(View<const float, 2> x, KvCache& cache, language::LogitRows which = language::LogitRows::all,
                           ThreadPool& pool = ThreadPool::global()) const {
    Tensor<float, 2> logits({which == language::LogitRows::last && x.shape(0) > 0 ? 1 : x.shape(0), m_->sizes.vocab_size});
    forward(x, cache, logits.view(), pool);
    return logits;
  }

 private:
  const detail::ErasedModel* m_;
};

// A conversation with a Model on one KV cache. Each send() takes the whole conversation so far
// (earlier turns, the model's earlier replies as assistant messages, the new turn) and runs only
// the tokens that the cache does not already hold: those after the longest common prefix of the
// conversation's ids and the session's, stepped back to before an image's tokens (an image row
// is not a token embedding). The Model must outlive the Chat.
class Chat {
 public:
  Chat(const Model& model, std::int64_t max_positions, const language::SamplingConfig& sampling, DType kv_cache,
       const language::LoopDetection& loop = {});

  language::Generation send(const Request& conversation, std::int64_t max_new_tokens,
                            const language::TokenCallback& on_token = {});

  // Every id of the conversation so far (prompts and replies).
  std::span<const std::int32_t> tokens() const noexcept { return session_.tokens(); }
  // The tokens of the last send() that were run (the rest came from the cache).
  std::int64_t last_prompt_tokens() const noexcept { return last_prompt_tokens_; }

 private:
  const Model* model_;
  language::ChatSession<LanguageModel> session_;
  language::LoopDetection loop_;
  std::int64_t last_prompt_tokens_ = 0;
};

// A model directory opened at run time (open_model). Cheap to copy: copies share the weights.
class Model {
 public:
  explicit Model(std::shared_ptr<detail::ErasedModel> m) : m_(std::move(m)), lm_(std::make_shared<LanguageModel>(*m_)) {}

  // "DeepSeek-VL", "DeepSeek-VL2": the registry entry's name.
  std::string_view generation() const noexcept { return m_->generation; }
  const std::filesystem::path& directory() const noexcept { return m_->directory; }
  // The formats in use, automatic resolved (the vision side's: automatic when it is float).
  WeightFormat weights() const noexcept { return m_->weights; }
  WeightFormat vision_weights() const noexcept { return m_->vision_weights; }
  const io::Tokenizer& tokenizer() const { return m_->tokenizer(); }
  std::vector<std::int32_t> stop_ids() const { return m_->stop_ids(); }
  std::int64_t max_positions() const noexcept { return m_->sizes.max_position_embeddings; }

  // The three steps of encode, for callers that time or replace one of them.
  ModelInputs process(const Request& request, ThreadPool& pool = ThreadPool::global()) const {
    return m_->process(request, pool);
  }
  Tensor<float, 2> encode_images(const ModelInputs& inputs, ThreadPool& pool = ThreadPool::global()) const {
    return m_->encode_images(inputs, pool);
  }
  Tensor<float, 2> embed(const ModelInputs& inputs, View<const float, 2> image_embeds) const {
    return m_->embed(inputs, image_embeds);
  }

  // The request as the language model's input: processed, its images encoded, embedded.
  Prompt encode(const Request& request, ThreadPool& pool = ThreadPool::global()) const {
    Prompt p;
    p.inputs = process(request, pool);
    p.image_embeds = encode_images(p.inputs, pool);
    p.inputs_embeds = embed(p.inputs, std::as_const(p.image_embeds).view());
    return p;
  }

  const LanguageModel& language_model() const noexcept { return *lm_; }
  KvCache make_cache(std::int64_t max_positions, DType dtype = DType::f32) const {
    return lm_->make_cache(max_positions, dtype);
  }
  // Runs the prompt after what the cache holds; the logits of its last row (1, V).
  Tensor<float, 2> prefill(const Prompt& prompt, KvCache& cache, ThreadPool& pool = ThreadPool::global()) const {
    return lm_->forward(std::as_const(prompt.inputs_embeds).view(), cache, language::LogitRows::last, pool);
  }
  // One token after what the cache holds; its logits (1, V).
  Tensor<float, 2> decode(std::int32_t token, KvCache& cache, ThreadPool& pool = ThreadPool::global()) const {
    const Tensor<float, 2> x = lm_->embed(std::span<const std::int32_t>(&token, 1));
    return lm_->forward(x.view(), cache, language::LogitRows::last, pool);
  }

  // Generates the reply to `prompt` on a fresh cache of the prompt's length plus max_new_tokens
  // (at most max_position_embeddings). on_token sees every new token (a stop id included);
  // returning false stops. A reply that loops (options.loop) ends with reason loop, its tokens
  // kept. Errors: a prompt with no room left, a negative max_new_tokens.
  language::Generation generate(const Prompt& prompt, const GenerateOptions& options,
                                const language::TokenCallback& on_token = {},
                                ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t T = prompt.inputs_embeds.shape(0), limit = max_positions();
    DSVL_CHECK(options.max_new_tokens >= 0, "Model::generate", "max_new_tokens is ", options.max_new_tokens,
               ", expected at least 0");
    DSVL_CHECK(T < limit, "Model::generate", "the prompt has ", T, " tokens, max_position_embeddings is ", limit);
    const std::int64_t room = options.max_new_tokens > limit - T ? limit : T + options.max_new_tokens;
    KvCache cache = make_cache(room, options.kv_cache);
    std::vector<std::int32_t> history = prompt.inputs.input_ids;
    language::Sampler sampler(options.sampling);
    return language::generate(*lm_, std::as_const(prompt.inputs_embeds).view(), cache, history,
                              {options.max_new_tokens, options.stop_at_eos ? stop_ids() : std::vector<std::int32_t>{},
                               options.loop},
                              sampler, on_token, pool);
  }

  // A conversation that keeps its KV cache between turns (max_positions: 0 for the model's).
  Chat chat(std::int64_t max_positions = 0, const language::SamplingConfig& sampling = {},
            DType kv_cache = DType::f32, const language::LoopDetection& loop = {}) const {
    return Chat(*this, max_positions > 0 ? max_positions : this->max_positions(), sampling, kv_cache, loop);
  }

  // Writes the weights as held (quantized matrices as codes and scales) to a safetensors file,
  // atomically, with the formats in the metadata, so that open_model reads them in place. Errors:
  // `file` is one of this model's files.
  void save_weights(const std::filesystem::path& file) const {
    io::refuse_input(file, model_files(directory()), "save_weights");
    io::SafeTensorsWriter w;
    m_->save_weights(w);
    w.set_metadata(kWeightsMetadata, std::string(weight_format_name(weights())));
    if (is_quantized(vision_weights()))
      w.set_metadata(kVisionWeightsMetadata, std::string(weight_format_name(vision_weights())));
    w.write(file);
  }
  std::int64_t parameter_count() const { return m_->parameter_count(); }

  // Writes a model directory at `dir`: model.safetensors (save_weights) and a copy of every other
  // file of this model's directory but its checkpoint (configs, tokenizer), published as a whole
  // (io::StagedFolder). An existing non-empty `dir` is replaced only when dsvl wrote it
  // (written_by_dsvl); one holding this model's files is refused.
  void save(const std::filesystem::path& dir) const {
    namespace fs = std::filesystem;
    io::refuse_input(dir, model_files(directory()), "the output folder");
    io::StagedFolder out(dir);
    save_weights(out.path() / "model.safetensors");
    for (const auto& e : fs::directory_iterator(directory())) {
      const fs::path name = e.path().filename();
      if (!e.is_regular_file() || name.extension() == ".safetensors" || name == "model.safetensors.index.json") continue;
      io::copy_file(e.path(), out.path() / name);
    }
    out.commit(written_by_dsvl);
  }

 private:
  std::shared_ptr<detail::ErasedModel> m_;
  std::shared_ptr<const LanguageModel> lm_;  // stable address for Chat's ChatSession
};

inline Chat::Chat(const Model& model, std::int64_t max_positions, const language::SamplingConfig& sampling,
                  DType kv_cache, const language::LoopDetection& loop)
    : model_(&model),
      session_(model.language_model(), max_positions, sampling, ThreadPool::global(), kv_cache),
      loop_(loop) {}

inline language::Generation Chat::send(const Request& conversation, std::int64_t max_new_tokens,
                                       const language::TokenCallback& on_token) {
  const Prompt p = model_->encode(conversation);
  const auto& ids = p.inputs.input_ids;
  const auto held = session_.tokens();
  std::size_t n = 0;
  while (n < held.size() && n < ids.size() && held[n] == ids[n]) ++n;
  while (n > 0 && ids[n - 1] == p.inputs.image_token_id) --n;
  DSVL_CHECK(n < ids.size(), "Chat::send", "the conversation adds nothing to the ", held.size(),
             " tokens the chat holds");
  session_.rewind(static_cast<std::int64_t>(n));
  const auto rows = std::as_const(p.inputs_embeds).view().slice(0, static_cast<std::int64_t>(n), p.inputs_embeds.shape(0));
  last_prompt_tokens_ = static_cast<std::int64_t>(ids.size() - n);
  return session_.send(rows, std::span<const std::int32_t>(ids).subspan(n),
                       {max_new_tokens, model_->stop_ids(), loop_}, on_token);
}

namespace detail {

template <RegistryEntry E, KernelPolicy P, KernelPolicy VisionP>
class ModelOf final : public ErasedModel {
 public:
  using Composed = typename E::template Model<P, VisionP>;

  ModelOf(const typename E::Config& config, typename E::Processor processor, std::shared_ptr<const io::Checkpoint> ckpt)
      : model_(config), processor_(std::move(processor)) {
    model_.load(std::move(ckpt));
    const auto& c = model_.language_model().config();
    sizes = {c.hidden_size, c.vocab_size, c.max_position_embeddings};
  }

  ModelInputs process(const Request& request, ThreadPool& pool) const override { return processor_(request, pool); }
  Tensor<float, 2> encode_images(const ModelInputs& inputs, ThreadPool& pool) const override {
    return model_.encode_images(inputs, pool);
  }
  Tensor<float, 2> embed(const ModelInputs& inputs, View<const float, 2> image_embeds) const override {
    return model_.embed(inputs, image_embeds);
  }
  void embed_ids(std::span<const std::int32_t> ids, View<float, 2> out) const override {
    model_.language_model().embed(ids, out);
  }
  KvCache make_cache(std::int64_t max_positions, DType dtype) const override {
    return model_.language_model().make_cache(max_positions, dtype);
  }
  void forward(View<const float, 2> x, KvCache& cache, View<float, 2> logits, ThreadPool& pool) const override {
    model_.language_model().forward(x, cache, logits, pool);
  }
  std::vector<std::int32_t> stop_ids() const override { return processor_.stop_ids(); }
  const io::Tokenizer& tokenizer() const override { return processor_.tokenizer(); }
  void save_weights(io::SafeTensorsWriter& out) override {
    nn::WeightSaver saver(out);
    model_.visit(saver);
  }
  std::int64_t parameter_count() override {
    nn::WeightCount count;
    model_.visit(count);
    return static_cast<std::int64_t>(count.count);
  }

 private:
  Composed model_;
  typename E::Processor processor_;
};

// The value of a metadata key in the checkpoint's files, else "".
inline std::string stored_metadata(const io::Checkpoint& ckpt, const char* key) {
  for (const auto& f : ckpt.files())
    if (const auto it = f.metadata().find(key); it != f.metadata().end()) return it->second;
  return {};
}

// A format named in a checkpoint's metadata (key), else `fallback`.
inline WeightFormat stored_format(const io::Checkpoint& ckpt, const char* key, WeightFormat fallback) {
  const std::string s = stored_metadata(ckpt, key);
  if (s.empty()) return fallback;
  const auto f = parse_weight_format(s);
  if (!f || !is_quantized(*f)) fail(ckpt.path().string(), "metadata '", key, "' is '", s, "', expected q8 or q4");
  return *f;
}

// The dtype of the checkpoint's largest tensor (a float checkpoint's matrices), as a format.
inline WeightFormat stored_float_format(const io::Checkpoint& ckpt) {
  std::size_t largest = 0;
  DType dtype = DType::f32;
  for (const auto name : ckpt.names())
    if (const auto& t = ckpt.info(name); t.bytes.size() > largest) {
      largest = t.bytes.size();
      dtype = t.dtype;
    }
  return dtype == DType::bf16 ? WeightFormat::bf16 : WeightFormat::f32;
}

struct Formats {
  WeightFormat weights, vision_weights;  // resolved; vision automatic: float
  bool in_place;                         // every matrix is read in place, none quantized at load
};

inline Formats resolve_formats(const ModelOptions& o, const io::Checkpoint& ckpt) {
  const WeightFormat stored = stored_format(ckpt, kWeightsMetadata, WeightFormat::automatic);
  const WeightFormat stored_vision = stored_format(ckpt, kVisionWeightsMetadata, WeightFormat::automatic);
  Formats f{o.weights, o.vision_weights, true};
  if (f.weights == WeightFormat::automatic)
    f.weights = stored != WeightFormat::automatic ? stored : stored_float_format(ckpt);
  if (f.vision_weights == WeightFormat::automatic) f.vision_weights = stored_vision;
  if (f.vision_weights == WeightFormat::f32 || f.vision_weights == WeightFormat::bf16)
    fail("models::open_model", "vision_weights is ", weight_format_name(f.vision_weights),
         ", expected auto, q8 or q4 (a float vision side takes the language model's float type)");
  if (is_quantized(f.vision_weights) && !is_quantized(f.weights))
    fail(ckpt.path().string(),
         o.vision_weights == WeightFormat::automatic ? "the checkpoint's vision matrices are stored as " : "vision weights ",
         weight_format_name(f.vision_weights), ", which needs weights q8 or q4");
  f.in_place = (!is_quantized(f.weights) || f.weights == stored) &&
               (!is_quantized(f.vision_weights) || f.vision_weights == stored_vision);
  return f;
}

// Calls f(P{}, VisionP{}) with the Highway policies of the formats.
template <class F>
decltype(auto) with_policies(const Formats& formats, F&& f) {
  const auto with_vision = [&](auto policy) -> decltype(auto) {
    using P = decltype(policy);
    if constexpr (is_quant_format_v<typename P::weight_type>) {
      if (formats.vision_weights == WeightFormat::q8) return f(policy, policies::HwyQ8{});
      if (formats.vision_weights == WeightFormat::q4) return f(policy, policies::HwyQ4{});
    }
    return f(policy, dense_policy_t<P>{});
  };
  switch (formats.weights) {
    case WeightFormat::f32: return with_vision(policies::HwyF32{});
    case WeightFormat::bf16: return with_vision(policies::HwyBF16{});
    case WeightFormat::q8: return with_vision(policies::HwyQ8{});
    case WeightFormat::q4: return with_vision(policies::HwyQ4{});
    case WeightFormat::automatic: break;
  }
  fail("models::open_model", "no weight format resolved");
}

// Touches every page of the checkpoint once.
inline void prefetch(const io::Checkpoint& ckpt, const std::function<void(std::size_t, std::size_t)>& progress) {
  std::size_t total = 0, done = 0;
  for (const auto name : ckpt.names()) total += ckpt.info(name).bytes.size();
  volatile unsigned char sink = 0;
  for (const auto name : ckpt.names()) {
    const auto bytes = ckpt.info(name).bytes;
    unsigned char acc = 0;
    for (std::size_t i = 0; i < bytes.size(); i += 4096) acc ^= static_cast<unsigned char>(bytes[i]);
    sink = sink ^ acc;
    done += bytes.size();
    if (progress) progress(done, total);
  }
}

}  // namespace detail

// Opens a model directory of any generation in the registry R: config.json (which picks the
// generation), the safetensors file or shards, tokenizer.json and the processor's config.
// Errors name the file, field or tensor. Builds every model type of R's generations (one per
// weight format); a registry of fewer entries builds fewer.
template <class R = Registry>
Model open_model(const std::filesystem::path& dir, const ModelOptions& options = {}) {
  return with_entry<R>(dir, [&](auto entry) {
    using E = decltype(entry);
    const typename E::Config config = E::read_config(dir);
    auto processor = E::processor(dir, config, options.pillow);
    auto ckpt = std::make_shared<const io::Checkpoint>(io::Checkpoint::open(dir));
    const detail::Formats formats = detail::resolve_formats(options, *ckpt);
    if (options.prefetch && formats.in_place) detail::prefetch(*ckpt, options.on_prefetch);
    return detail::with_policies(formats, [&](auto policy, auto vision_policy) {
      auto m = std::make_shared<detail::ModelOf<E, decltype(policy), decltype(vision_policy)>>(
          config, std::move(processor), ckpt);
      m->generation = E::name;
      m->directory = dir;
      m->weights = formats.weights;
      m->vision_weights = formats.vision_weights;
      return Model(std::move(m));
    });
  });
}

// The format a checkpoint written by Model::save_weights records for the language model, if any.
inline std::optional<WeightFormat> stored_quantization(const io::Checkpoint& ckpt) {
  const WeightFormat f = detail::stored_format(ckpt, kWeightsMetadata, WeightFormat::automatic);
  if (f == WeightFormat::automatic) return std::nullopt;
  return f;
}

// What `dsvl inspect` prints of a model directory, found without loading the weights.
struct ModelSummary {
  std::string_view generation;
  std::string architecture;          // the entry's describe()
  std::string preset;                // "name (repository)" of the released size it equals, or ""
  std::int64_t parameters = 0;       // declared by the composed model
  std::string weight_problems;       // every missing, misshapen or unexpected tensor, or ""
};

template <class R = Registry>
ModelSummary inspect_model(const std::filesystem::path& dir) {
  return with_entry<R>(dir, [&](auto entry) {
    using E = decltype(entry);
    ModelSummary s;
    const typename E::Config config = E::read_config(dir);
    s.generation = E::name;
    s.architecture = E::describe(config);
    for (const auto& p : E::presets)
      if (p.config == config) s.preset = std::string(p.name) + " (" + std::string(p.repository) + ")";
    const io::Checkpoint ckpt = io::Checkpoint::open(dir);
    detail::with_policies(detail::resolve_formats({}, ckpt), [&](auto policy, auto vision_policy) {
      typename E::template Model<decltype(policy), decltype(vision_policy)> model(config);
      nn::WeightCount count;
      model.visit(count);
      s.parameters = static_cast<std::int64_t>(count.count);
      nn::WeightLoader check(ckpt, {}, /*bind=*/false);
      check.walk(model);
      try {
        check.finish();
      } catch (const Error& e) {
        s.weight_problems = e.what();
      }
    });
    return s;
  });
}

// The released sizes of every generation, "name (repository)", for help texts.
template <class R = Registry>
std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for_each_entry<R>([&](auto entry) {
    for (const auto& p : decltype(entry)::presets) names.emplace_back(p.name);
  });
  return names;
}

struct RandomModelOptions {
  DType dtype = DType::bf16;        // bf16 or f32
  std::uint64_t seed = 0;
  std::int64_t routed_experts = 0;  // > 0: this many routed experts per MoE layer (generations with MoE)
  std::filesystem::path tokenizer;  // a tokenizer.json to copy into the folder (none when empty)
};

// Writes a model directory with random weights in the exact shapes of the released size `preset`
// (preset_names()): its JSON files, model.safetensors (the seed in its metadata) and the tokenizer
// of the options, published as a whole as Model::save does. Needs memory for one tensor at a time.
template <class R = Registry>
void write_random_model(std::string_view preset, const std::filesystem::path& dir,
                        const RandomModelOptions& options = {}) {
  bool found = false;
  for_each_entry<R>([&](auto entry) {
    using E = decltype(entry);
    for (const auto& p : E::presets) {
      if (p.name != preset) continue;
      found = true;
      typename E::Config config = p.config;
      if (options.routed_experts > 0) {
        if constexpr (requires { E::with_routed_experts(config, options.routed_experts); })
          config = E::with_routed_experts(config, options.routed_experts);
        else
          fail("models::write_random_model", "preset ", preset, " (", E::name, ") has no routed experts");
      }
      io::StagedFolder out(dir);
      E::write_config_files(out.path(), config);
      if (!options.tokenizer.empty()) io::copy_file(options.tokenizer, out.path() / "tokenizer.json");
      io::SafeTensorsWriter w;
      w.set_metadata(kRandomSeedMetadata, std::to_string(options.seed));
      const auto write = [&](auto policy) {
        typename E::template Model<decltype(policy), decltype(policy)> model(config);
        nn::RandomWeightSaver saver(w, options.seed);
        model.visit(saver);
        w.write(out.path() / "model.safetensors");
      };
      if (options.dtype == DType::bf16) write(policies::ScalarBF16{});
      else if (options.dtype == DType::f32) write(policies::ScalarF32{});
      else fail("models::write_random_model", "dtype ", dtype_name(options.dtype), ", expected bf16 or f32");
      out.commit(written_by_dsvl);
    }
  });
  if (!found) {
    std::string names;
    for (const auto& n : preset_names<R>()) names += (names.empty() ? "" : ", ") + n;
    fail("models::write_random_model", "no preset '", preset, "'; the presets are ", names);
  }
}

}  // namespace dsvl::models
