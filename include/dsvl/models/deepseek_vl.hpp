#pragma once
// DeepSeekVL<P> (sizes read at run time) or DeepSeekVL<P, kDeepSeekVL1_3B / kDeepSeekVL7B /
// kJanusPro1B / kJanusPro7B> (sizes fixed at compile time; the same results): DeepSeek-VL (v1),
// MultiModalityCausalLM of deepseek_vl/models/modeling_vlm.py, and the understanding path of
// Janus-Pro's (janus/models/modeling_vlm.py).
//
//   images (n, 3, S, S) as VLMImageProcessor gives them (vision/preprocess.hpp: DeepSeek-VL's in
//   [0, 1], Janus-Pro's normalised)
//     -> vision_model: CLIPVisionTower (normalize, SigLIP) or HybridVisionTower (SAM + SigLIP)
//     -> aligner                                     image embeddings (n * 576, D), images in order
//   input_ids (T) -> embed_tokens, with the image embeddings written over the rows whose id is the
//     image token, in order (prepare_inputs_embeds)                      inputs_embeds (T, D)
//   -> language_model (language/dense_decoder.hpp; generation: language/generate.hpp)
//
// Weights, by their official names: "vision_model.vision_tower.*" (1.3B) or
// "vision_model.vision_tower_{high,low}.vision_tower.*" (7B), "aligner.*", "language_model.*".
// Janus's image-generation parts ("gen_vision_model.*", "gen_aligner.*", "gen_head.*",
// "gen_embed.*", config().image_generation) are declared unused.
// P::weight_type is how the language model's matrices are stored (bf16 checkpoints stay bf16 with
// ScalarBF16-style policies, zero copy; f32 policies widen them; quantized policies quantize them
// at load). The vision side (towers and aligner) runs VisionP, by default P with its float weight
// type (dense_policy_t<P>: bf16 under a quantized P); a quantized VisionP rounds the towers' and
// the aligner's matrices at load too (DeepSeekVL<policies::HwyQ4, kDynamicDeepSeekVL,
// policies::HwyQ8>; accuracy in docs/quantization.md). Activations and accumulation are f32.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/language/dense_decoder.hpp"
#include "dsvl/models/deepseek_vl_config.hpp"
#include "dsvl/models/inputs_embeds.hpp"
#include "dsvl/models/model_inputs.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/aligner.hpp"
#include "dsvl/vision/hybrid_vision_tower.hpp"
#include "dsvl/vision/pixel_norm.hpp"
#include "dsvl/vision/siglip_vit.hpp"

namespace dsvl::models {

template <KernelPolicy P, DeepSeekVLConfig Fixed = kDynamicDeepSeekVL, KernelPolicy VisionP = dense_policy_t<P>>
class DeepSeekVL {
 public:
  static constexpr bool is_fixed = !(Fixed == kDynamicDeepSeekVL);
  using Decoder = language::DenseDecoder<P>;
  using VisionPolicy = VisionP;

  // Empty weights of the given sizes (load, or visit with nn::WeightRandomInit). With a
  // compile-time preset, `config` must equal it: the error lists every field that differs.
  explicit DeepSeekVL(const DeepSeekVLConfig& config)
      : config_(checked(config)), aligner_(config.aligner), language_(config.language) {
    if (config.hybrid())
      hybrid_.emplace(config.sam, config.sam_norm, config.siglip, config.siglip_norm);
    else
      siglip_.emplace(config.siglip);
  }
  DeepSeekVL()
    requires is_fixed
      : DeepSeekVL(Fixed) {}

  // A model directory as published: config.json (checked against the preset, if any), the
  // safetensors file or shards, and vision_models.json when the towers are not official ones.
  // The model keeps the checkpoint mapped and reads weights of its own dtype in place.
  static DeepSeekVL from_directory(const std::filesystem::path& dir) {
    const DeepSeekVLConfig config = read_deepseek_vl_config(dir);
    if constexpr (is_fixed) check_matches_preset(config, (dir / "config.json").string());
    DeepSeekVL model(config);
    model.load(std::make_shared<const io::Checkpoint>(io::Checkpoint::open(dir)));
    return model;
  }

  // The config; a compile-time constant with a preset.
  constexpr const DeepSeekVLConfig& config() const noexcept {
    if constexpr (is_fixed) return Fixed;
    else return config_;
  }
  std::int64_t num_image_tokens() const noexcept { return config().num_image_tokens(); }
  std::int64_t image_size() const noexcept { return config().image_size(); }
  std::int64_t hidden_size() const noexcept { return config().language.hidden_size; }

  template <class V>
  void visit(V& v) {
    if (hybrid_) v.child("vision_model", *hybrid_);
    else v.child("vision_model.vision_tower", *siglip_);
    v.child("aligner", aligner_);
    v.child("language_model", language_);
    if (config().image_generation)
      for (const char* part : {"gen_vision_model.", "gen_aligner.", "gen_head.", "gen_embed."}) v.unused(part);
  }

  // Binds every weight to `ckpt` and reports every missing, misshapen or unexpected tensor of
  // the whole checkpoint in one dsvl::Error. The checkpoint must outlive the model where it is
  // read in place; the shared_ptr overload keeps it alive.
  void load(const io::Checkpoint& ckpt) {
    nn::load_weights(*this, ckpt);
  }
  void load(std::shared_ptr<const io::Checkpoint> ckpt) {
    DSVL_CHECK(ckpt != nullptr, "DeepSeekVL::load", "no checkpoint");
    load(*ckpt);
    checkpoint_ = std::move(ckpt);
  }

  // pixels (n, 3, S, S) as the processor gives them -> image embeddings (n * num_image_tokens, D),
  // images in order.
  void encode_images(View<const float, 4> pixels, View<float, 2> out, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t n = pixels.shape(0), S = image_size(), K = num_image_tokens(), D = hidden_size();
    DSVL_CHECK(pixels.shape(1) == 3 && pixels.shape(2) == S && pixels.shape(3) == S, "DeepSeekVL::encode_images",
               "pixels are (", n, ", ", pixels.shape(1), ", ", pixels.shape(2), ", ", pixels.shape(3),
               "), expected (n, 3, ", S, ", ", S, ")");
    DSVL_CHECK(out.shape(0) == n * K && out.shape(1) == D && out.inner_contiguous(), "DeepSeekVL::encode_images",
               "out is (", out.shape(0), ", ", out.shape(1), "), expected (", n * K, ", ", D, ")");
    const std::int64_t W = config().siglip.width;
    for (std::int64_t i = 0; i < n; ++i) {
      const View<float, 2> rows = out.slice(0, i * K, (i + 1) * K);
      if (hybrid_) {
        Tensor<float, 2> high({K, config().sam.out_dim()}), low({K, W});
        hybrid_->forward(pixels[i], high.view(), low.view(), pool);
        aligner_.forward(View<const float, 2>(high.view()), View<const float, 2>(low.view()), rows, pool);
      } else {
        const Tensor<float, 3> x = vision::normalized(pixels[i], config().siglip_norm);
        Tensor<float, 2> features({K, W});
        siglip_->forward(x.view(), features.view(), pool);
        aligner_.forward(View<const float, 2>(features.view()), rows, pool);
      }
    }
  }
  Tensor<float, 2> encode_images(View<const float, 4> pixels, ThreadPool& pool = ThreadPool::global()) const {
    Tensor<float, 2> out({pixels.shape(0) * num_image_tokens(), hidden_size()});
    encode_images(pixels, out.view(), pool);
    return out;
  }

  // The image embeddings of a processor's inputs (models/deepseek_vl_processor.hpp).
  Tensor<float, 2> encode_images(const ModelInputs& inputs, ThreadPool& pool = ThreadPool::global()) const {
    for (const ImageGrid& g : inputs.images)
      DSVL_CHECK(g.num_tiles() == 1, "DeepSeekVL::encode_images", "an image has ", g.num_tiles(),
                 " tiles; DeepSeek-VL takes one view per image");
    return encode_images(View<const float, 4>(inputs.pixel_values.view()), pool);
  }

  // inputs_embeds (T, D): the token embeddings of `ids`, with the rows of image_embeds written, in
  // order, over the rows whose id is `image_token_id` (num_image_tokens() per image). Their counts
  // must agree.
  Tensor<float, 2> embed(std::span<const std::int32_t> ids, std::int32_t image_token_id,
                         View<const float, 2> image_embeds) const {
    return inputs_embeds(language_, ids, image_token_id, image_embeds, "DeepSeekVL::embed");
  }
  Tensor<float, 2> embed(const ModelInputs& inputs, View<const float, 2> image_embeds) const {
    return embed(inputs.input_ids, inputs.image_token_id, image_embeds);
  }

  const Decoder& language_model() const noexcept { return language_; }
  Decoder& language_model() noexcept { return language_; }
  const vision::Aligner<VisionPolicy>& aligner() const noexcept { return aligner_; }
  // The towers: one of these is set, as config().hybrid() says.
  const std::optional<vision::SiglipVit<VisionPolicy, Fixed.siglip>>& siglip_tower() const noexcept { return siglip_; }
  const std::optional<vision::HybridVisionTower<VisionPolicy, Fixed.siglip>>& hybrid_tower() const noexcept { return hybrid_; }

  // Throws when `config` differs from the compile-time preset, listing every difference.
  static void check_matches_preset(const DeepSeekVLConfig& config, const std::string& where) {
    if constexpr (is_fixed) {
      const auto diff = differences(config, Fixed);
      if (diff.empty()) return;
      std::string msg = "the checkpoint's config does not match the compile-time DeepSeekVLConfig (read vs fixed):";
      for (const auto& d : diff) msg += "\n  " + d;
      fail(where, msg);
    }
  }

 private:
  static const DeepSeekVLConfig& checked(const DeepSeekVLConfig& config) {
    check_matches_preset(config, "DeepSeekVL");
    check_config(config, "DeepSeekVL");
    return config;
  }

  DeepSeekVLConfig config_;
  std::optional<vision::SiglipVit<VisionPolicy, Fixed.siglip>> siglip_;
  std::optional<vision::HybridVisionTower<VisionPolicy, Fixed.siglip>> hybrid_;
  vision::Aligner<VisionPolicy> aligner_;
  Decoder language_;
  std::shared_ptr<const io::Checkpoint> checkpoint_;
};

}  // namespace dsvl::models
