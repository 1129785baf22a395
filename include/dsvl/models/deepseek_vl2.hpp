#pragma once
// DeepSeekVL2<P> (sizes read at run time) or DeepSeekVL2<P, kDeepSeekVL2Tiny / Small / Base>
// (sizes fixed at compile time; the same results): DeepSeek-VL2, DeepseekVLV2ForCausalLM of
// deepseek_vl2/models/modeling_deepseek_vl_v2.py.
//
//   tiles (n, 3, S, S) normalised to [-1, 1], every image's global view then its local tiles, as
//     the image processor gives them (vision/dynamic_tiling.hpp)
//     -> vision: SigLIP ViT, all blocks and the final norm      (n, grid^2, width)
//     -> projector: 2x2 merge and MLP                           (n, t^2, D), t = tokens_per_tile_side()
//   per image, its tiles laid out with image_newline and view_seperator (vision/tile_layout.hpp)
//                                                               (N(nw, nh), D)
//   input_ids (T) -> embed_tokens, the image embeddings written over the <image> rows, in order
//   -> language: the DeepSeekMoE decoder (language/moe_decoder.hpp; generation: language/generate.hpp)
//
// Weights, by their official names: "vision.*", "projector.layers.{0,2}.*", "image_newline",
// "view_seperator", "language.*". P::weight_type is how the language model's matrices are stored.
// The vision side (tower and projector) runs VisionP, by default P with its float weight type
// (dense_policy_t<P>: bf16 under a quantized P); a quantized VisionP rounds the tower's and the
// projector's matrices at load too (accuracy in docs/quantization.md). Activations and
// accumulation are f32.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/language/moe_decoder.hpp"
#include "dsvl/models/deepseek_vl2_config.hpp"
#include "dsvl/models/inputs_embeds.hpp"
#include "dsvl/models/model_inputs.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/downsample_projector.hpp"
#include "dsvl/vision/siglip_vit.hpp"
#include "dsvl/vision/tile_layout.hpp"

namespace dsvl::models {

template <KernelPolicy P, DeepSeekVL2Config Fixed = kDynamicDeepSeekVL2, KernelPolicy VisionP = dense_policy_t<P>>
class DeepSeekVL2 {
 public:
  static constexpr bool is_fixed = !(Fixed == kDynamicDeepSeekVL2);
  using Decoder = language::MoeDecoder<P>;
  using VisionPolicy = VisionP;

  // Empty weights of the given sizes (load, or visit with nn::WeightRandomInit). With a
  // compile-time preset, `config` must equal it: the error lists every field that differs.
  explicit DeepSeekVL2(const DeepSeekVL2Config& config)
      : config_(checked(config)), vision_(config.vision), projector_(config.projector), language_(config.language) {}
  DeepSeekVL2()
    requires is_fixed
      : DeepSeekVL2(Fixed) {}

  // A model directory as published: config.json (checked against the preset, if any) and the
  // safetensors file or shards. The model keeps the checkpoint mapped and reads weights of its
  // own dtype in place.
  static DeepSeekVL2 from_directory(const std::filesystem::path& dir) {
    const DeepSeekVL2Config config = read_deepseek_vl2_config(dir);
    if constexpr (is_fixed) check_matches_preset(config, (dir / "config.json").string());
    DeepSeekVL2 model(config);
    model.load(std::make_shared<const io::Checkpoint>(io::Checkpoint::open(dir)));
    return model;
  }

  // The config; a compile-time constant with a preset.
  constexpr const DeepSeekVL2Config& config() const noexcept {
    if constexpr (is_fixed) return Fixed;
    else return config_;
  }
  std::int64_t tile_size() const noexcept { return config().tile_size(); }
  std::int64_t tokens_per_tile_side() const noexcept { return config().tokens_per_tile_side(); }
  std::int64_t hidden_size() const noexcept { return config().language.hidden_size; }
  // N(nw, nh): the image tokens of an image of width_tiles x height_tiles local tiles.
  std::int64_t image_token_count(std::int64_t width_tiles, std::int64_t height_tiles) const {
    return vision::image_token_count(tokens_per_tile_side(), width_tiles, height_tiles);
  }

  template <class V>
  void visit(V& v) {
    const std::int64_t D = config().language.hidden_size;
    v.child("vision", vision_);
    v.child("projector", projector_);
    v.weight("image_newline", image_newline_, {D});
    v.weight("view_seperator", view_seperator_, {D});
    v.child("language", language_);
  }

  // Binds every weight to `ckpt` and reports every missing, misshapen or unexpected tensor of
  // the whole checkpoint in one dsvl::Error. The checkpoint must outlive the model where it is
  // read in place; the shared_ptr overload keeps it alive.
  void load(const io::Checkpoint& ckpt) { nn::load_weights(*this, ckpt); }
  void load(std::shared_ptr<const io::Checkpoint> ckpt) {
    DSVL_CHECK(ckpt != nullptr, "DeepSeekVL2::load", "no checkpoint");
    load(*ckpt);
    checkpoint_ = std::move(ckpt);
  }

  // tiles (n, 3, S, S) normalised -> the projector's tokens (n, t^2, D), tiles in order.
  void encode_tiles(View<const float, 4> tiles, View<float, 3> out, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t n = tiles.shape(0), S = tile_size(), N = config().vision.num_patches();
    DSVL_CHECK(tiles.shape(1) == 3 && tiles.shape(2) == S && tiles.shape(3) == S, "DeepSeekVL2::encode_tiles",
               "tiles are (", n, ", ", tiles.shape(1), ", ", tiles.shape(2), ", ", tiles.shape(3), "), expected (n, 3, ",
               S, ", ", S, ")");
    Tensor<float, 3> features({n, N, config().vision.width});
    for (std::int64_t i = 0; i < n; ++i) vision_.forward(tiles[i], features.view()[i], pool);
    projector_.forward(std::as_const(features).view(), out, pool);
  }
  Tensor<float, 3> encode_tiles(View<const float, 4> tiles, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t t = tokens_per_tile_side();
    Tensor<float, 3> out({tiles.shape(0), t * t, hidden_size()});
    encode_tiles(tiles, out.view(), pool);
    return out;
  }

  // One image's embedding rows (N(nw, nh), D) from the projector's tokens of its 1 + nw nh tiles.
  Tensor<float, 2> image_embeddings(View<const float, 3> tile_tokens, std::int64_t width_tiles,
                                    std::int64_t height_tiles) const {
    return vision::layout_image_embeddings(tile_tokens, width_tiles, height_tiles, image_newline(), view_seperator(),
                                           config().global_view_pos);
  }

  // Every image's embedding rows, images in order (what embed writes over the image tokens), from
  // tiles (n_tiles, 3, S, S) holding each image's 1 + nw nh tiles in order, `images` their grids.
  Tensor<float, 2> encode_images(View<const float, 4> tiles, std::span<const ImageGrid> images,
                                 ThreadPool& pool = ThreadPool::global()) const {
    std::int64_t n_tiles = 0, rows = 0;
    for (const ImageGrid& g : images) {
      n_tiles += g.num_tiles();
      rows += image_token_count(g.width_tiles, g.height_tiles);
    }
    DSVL_CHECK(n_tiles == tiles.shape(0), "DeepSeekVL2::encode_images", "the images' grids make ", n_tiles,
               " tiles but there are ", tiles.shape(0));
    const std::int64_t D = hidden_size();
    Tensor<float, 2> out({rows, D});
    if (n_tiles == 0) return out;
    const Tensor<float, 3> tokens = encode_tiles(tiles, pool);  // (n_tiles, t^2, D)
    std::int64_t tile = 0, row = 0;
    for (const ImageGrid& g : images) {
      const Tensor<float, 2> e = image_embeddings(std::as_const(tokens).view().slice(0, tile, tile + g.num_tiles()),
                                                  g.width_tiles, g.height_tiles);
      std::copy_n(e.data(), e.size(), out.data() + row * D);
      tile += g.num_tiles();
      row += e.shape(0);
    }
    return out;
  }
  // The image embeddings of a processor's inputs (models/deepseek_vl2_processor.hpp).
  Tensor<float, 2> encode_images(const ModelInputs& inputs, ThreadPool& pool = ThreadPool::global()) const {
    return encode_images(View<const float, 4>(inputs.pixel_values.view()), inputs.images, pool);
  }

  // inputs_embeds (T, D): the token embeddings of `ids`, with the rows of image_embeds (every
  // image's image_embeddings, in order) written over the rows whose id is `image_token_id`.
  Tensor<float, 2> embed(std::span<const std::int32_t> ids, std::int32_t image_token_id,
                         View<const float, 2> image_embeds) const {
    return inputs_embeds(language_, ids, image_token_id, image_embeds, "DeepSeekVL2::embed");
  }
  Tensor<float, 2> embed(const ModelInputs& inputs, View<const float, 2> image_embeds) const {
    return embed(inputs.input_ids, inputs.image_token_id, image_embeds);
  }

  const Decoder& language_model() const noexcept { return language_; }
  Decoder& language_model() noexcept { return language_; }
  const vision::SiglipVit<VisionPolicy, Fixed.vision>& vision_tower() const noexcept { return vision_; }
  const vision::DownsampleProjector<VisionPolicy>& projector() const noexcept { return projector_; }
  View<const float, 1> image_newline() const noexcept { return image_newline_.view(); }
  View<const float, 1> view_seperator() const noexcept { return view_seperator_.view(); }

  // Throws when `config` differs from the compile-time preset, listing every difference.
  static void check_matches_preset(const DeepSeekVL2Config& config, const std::string& where) {
    if constexpr (is_fixed) {
      const auto diff = differences(config, Fixed);
      if (diff.empty()) return;
      std::string msg = "the checkpoint's config does not match the compile-time DeepSeekVL2Config (read vs fixed):";
      for (const auto& d : diff) msg += "\n  " + d;
      fail(where, msg);
    }
  }

 private:
  static const DeepSeekVL2Config& checked(const DeepSeekVL2Config& config) {
    check_matches_preset(config, "DeepSeekVL2");
    check_config(config, "DeepSeekVL2");
    return config;
  }

  DeepSeekVL2Config config_;
  vision::SiglipVit<VisionPolicy, Fixed.vision> vision_;
  vision::DownsampleProjector<VisionPolicy> projector_;
  nn::Weight<float, 1> image_newline_, view_seperator_;  // added to f32 activations: kept f32
  Decoder language_;
  std::shared_ptr<const io::Checkpoint> checkpoint_;
};

}  // namespace dsvl::models
