#pragma once
// DeepSeekOcr<P> (sizes read at run time) or DeepSeekOcr<P, kDeepSeekOcr> (sizes fixed at compile
// time, checked against the config; the same results): DeepSeek-OCR, DeepseekOCRForCausalLM of the
// official repository
// (DeepSeek-OCR-vllm/deepseek_ocr.py, _pixel_values_to_embedding; deepencoder/).
//
//   each view (3, S, S) normalised to [-1, 1] (S: the mode's sizes, models/deepseek_ocr_processor.hpp)
//     -> SAM-B: blocks, neck, net_2, net_3              sam (g*g, C), g = ceil(S / 64)
//     -> CLIP-L on SAM's map as its patch embeddings    clip (g*g + 1, C), class token first
//     -> features [clip without the class token | sam]  (g*g, 2C)
//     -> projector: Linear(2C, D)                       (g*g, D)
//   per page, the rows written over its image tokens:
//     tiled (Gundam):  the local tiles as one (q*nh) x (q*nw) grid, tile (r, c) at rows r*q.. and
//                      columns c*q.., each big row followed by image_newline; then the global
//                      view's t rows of t, each followed by image_newline; then view_seperator
//     untiled:         the global view's rows with image_newline, then view_seperator
//   (DeepSeek-VL2 puts the global view first; here the tiles come first.)
//   input_ids (T) -> embed_tokens, the image rows written over the <image> rows, in order
//   -> language: the DeepSeekMoE decoder of DeepSeek-VL2-Tiny (language/moe_decoder.hpp)
//
// Weights, by their official names: "model.sam_model.*", "model.vision_model.*",
// "model.projector.layers.*", "model.image_newline", "model.view_seperator", and the decoder's
// "model.embed_tokens.weight", "model.layers.*", "model.norm.weight", "lm_head.weight".
// P::weight_type is how the language model's matrices are stored; the vision side (both towers
// and the projector) runs VisionP, by default P with its float weight type (dense_policy_t<P>).
// Activations and accumulation are f32.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/square_side.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/core/trace.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/language/moe_decoder.hpp"
#include "dsvl/models/deepseek_ocr_config.hpp"
#include "dsvl/models/inputs_embeds.hpp"
#include "dsvl/models/model_inputs.hpp"
#include "dsvl/nn/weights.hpp"
#include "dsvl/policy/policy.hpp"
#include "dsvl/vision/aligner.hpp"
#include "dsvl/vision/clip_vit.hpp"
#include "dsvl/vision/sam_vit.hpp"

namespace dsvl::models {

template <KernelPolicy P, DeepSeekOcrConfig Fixed = kDynamicDeepSeekOcr, KernelPolicy VisionP = dense_policy_t<P>>
class DeepSeekOcr {
 public:
  static constexpr bool is_fixed = !(Fixed == kDynamicDeepSeekOcr);
  using Decoder = language::MoeDecoder<P>;
  using VisionPolicy = VisionP;

  // Empty weights of the given sizes (load, or visit with nn::WeightRandomInit). With a
  // compile-time preset, `config` must equal it: the error lists every field that differs.
  explicit DeepSeekOcr(const DeepSeekOcrConfig& config)
      : config_(checked(config, "DeepSeekOcr")), sam_(config.sam()), clip_(config.clip()), projector_(config.projector),
        language_(config.language) {}
  DeepSeekOcr()
    requires is_fixed
      : DeepSeekOcr(Fixed) {}

  // A model directory as published: config.json (checked against the preset, if any) and the
  // safetensors file or shards, kept mapped.
  static DeepSeekOcr from_directory(const std::filesystem::path& dir) {
    DeepSeekOcr model(checked(read_deepseek_ocr_config(dir), (dir / "config.json").string()));
    model.load(std::make_shared<const io::Checkpoint>(io::Checkpoint::open(dir)));
    return model;
  }

  // The config; a compile-time constant with a preset.
  constexpr const DeepSeekOcrConfig& config() const noexcept {
    if constexpr (is_fixed) return Fixed;
    else return config_;
  }
  std::int64_t hidden_size() const noexcept { return config().language.hidden_size; }

  template <class V>
  void visit(V& v) {
    const std::int64_t D = hidden_size();
    v.child("model.sam_model", sam_);
    v.child("model.vision_model", clip_);
    v.child("model.projector", projector_);
    v.weight("model.image_newline", image_newline_, {D});
    v.weight("model.view_seperator", view_seperator_, {D});
    v.walk(language_);
  }

  // Binds every weight to `ckpt` and reports every missing, misshapen or unexpected tensor of
  // the whole checkpoint in one dsvl::Error.
  void load(const io::Checkpoint& ckpt) { nn::load_weights(*this, ckpt); }
  void load(std::shared_ptr<const io::Checkpoint> ckpt) {
    DSVL_CHECK(ckpt != nullptr, "DeepSeekOcr::load", "no checkpoint");
    load(*ckpt);
    checkpoint_ = std::move(ckpt);
  }

  // One view (3, S, S) -> its tokens (g*g, D), g = tokens_per_side(S). The tracer sees SAM's and
  // CLIP's events (vision/sam_vit.hpp, vision/clip_vit.hpp), then ("features", -1) (g*g, 2C).
  template <class Tracer = NoTrace>
  void encode_view(View<const float, 3> pixels, View<float, 2> out, ThreadPool& pool = ThreadPool::global(),
                   Tracer&& tracer = {}) const {
    const std::int64_t S = pixels.shape(1), K = sam_.num_tokens_at(S), C = sam_.out_dim(), Cc = clip_.width();
    DSVL_CHECK(out.shape(0) == K && out.shape(1) == hidden_size() && out.inner_contiguous(), "DeepSeekOcr::encode_view",
               "out is (", out.shape(0), ", ", out.shape(1), "), expected (", K, ", ", hidden_size(), ")");
    Tensor<float, 2> sam({K, C}), clip({K + 1, Cc}), features({K, Cc + C});
    sam_.forward(pixels, sam.view(), pool, tracer);
    clip_.forward(std::as_const(sam).view(), clip.view(), pool, tracer);
    for (std::int64_t k = 0; k < K; ++k) {
      std::copy_n(&clip(k + 1, 0), Cc, &features(k, 0));
      std::copy_n(&sam(k, 0), C, &features(k, Cc));
    }
    trace(tracer, "features", -1, std::as_const(features).view());
    projector_.forward(std::as_const(features).view(), out, pool);
  }
  Tensor<float, 2> encode_view(View<const float, 3> pixels, ThreadPool& pool = ThreadPool::global()) const {
    const std::int64_t K = sam_.num_tokens_at(pixels.shape(1));
    Tensor<float, 2> out({K, hidden_size()});
    encode_view(pixels, out.view(), pool);
    return out;
  }

  // The image rows of a page (see the top of this file): global (t*t, D), tiles (nw*nh, q*q, D).
  Tensor<float, 2> image_embeddings(View<const float, 2> global, View<const float, 3> tiles, std::int64_t width_tiles,
                                    std::int64_t height_tiles) const {
    constexpr const char* where = "DeepSeekOcr::image_embeddings";
    const std::int64_t D = hidden_size(), t = side_of(global.shape(0), where), nw = width_tiles, nh = height_tiles;
    DSVL_CHECK(nw >= 0 && nh >= 0 && tiles.shape(0) == nw * nh, where, "there are ", tiles.shape(0), " tiles for a ",
               nw, "x", nh, " grid");
    const std::int64_t q = nw * nh > 0 ? side_of(tiles.shape(1), where) : 0;
    const std::int64_t local_rows = nw * nh > 0 ? (q * nw + 1) * (q * nh) : 0;
    Tensor<float, 2> out({local_rows + (t + 1) * t + 1, D});
    std::int64_t row = 0;
    const auto put = [&](const float* src) { std::copy_n(src, D, &out(row++, 0)); };
    for (std::int64_t r = 0; r < nh; ++r)
      for (std::int64_t i = 0; i < q; ++i) {
        for (std::int64_t c = 0; c < nw; ++c)
          for (std::int64_t j = 0; j < q; ++j) put(&tiles(r * nw + c, i * q + j, 0));
        put(image_newline_.view().data());
      }
    for (std::int64_t i = 0; i < t; ++i) {
      for (std::int64_t j = 0; j < t; ++j) put(&global(i * t + j, 0));
      put(image_newline_.view().data());
    }
    put(view_seperator_.view().data());
    return out;
  }

  // Every page's image rows, pages in order (what embed writes over the image tokens).
  Tensor<float, 2> encode_images(const ModelInputs& inputs, ThreadPool& pool = ThreadPool::global()) const {
    constexpr const char* where = "DeepSeekOcr::encode_images";
    const auto n = static_cast<std::int64_t>(inputs.images.size());
    DSVL_CHECK(inputs.pixel_values.shape(0) == n, where, "there are ", inputs.pixel_values.shape(0),
               " global views for ", n, " pages");
    std::int64_t n_tiles = 0;
    for (const ImageGrid& g : inputs.images) n_tiles += g.width_tiles * g.height_tiles;
    DSVL_CHECK(inputs.local_pixel_values.shape(0) == n_tiles, where, "the pages' grids make ", n_tiles,
               " tiles but there are ", inputs.local_pixel_values.shape(0));
    std::vector<Tensor<float, 2>> pages;
    std::int64_t rows = 0, tile = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const ImageGrid& g = inputs.images[static_cast<std::size_t>(i)];
      const Tensor<float, 2> global = encode_view(View<const float, 4>(inputs.pixel_values.view())[i], pool);
      const std::int64_t m = g.width_tiles * g.height_tiles;
      const std::int64_t q = m > 0 ? sam_.num_tokens_at(inputs.local_pixel_values.shape(2)) : 0;
      Tensor<float, 3> tiles({m, q, hidden_size()});
      for (std::int64_t k = 0; k < m; ++k)
        encode_view(View<const float, 4>(inputs.local_pixel_values.view())[tile + k], tiles.view()[k], pool);
      tile += m;
      pages.push_back(image_embeddings(global.view(), std::as_const(tiles).view(), g.width_tiles, g.height_tiles));
      rows += pages.back().shape(0);
    }
    Tensor<float, 2> out({rows, hidden_size()});
    std::int64_t row = 0;
    for (const auto& p : pages) {
      std::copy_n(p.data(), p.size(), out.data() + row * hidden_size());
      row += p.shape(0);
    }
    return out;
  }

  // inputs_embeds (T, D): the token embeddings of `ids`, with the rows of image_embeds written over
  // the rows whose id is `image_token_id`.
  Tensor<float, 2> embed(std::span<const std::int32_t> ids, std::int32_t image_token_id,
                         View<const float, 2> image_embeds) const {
    return inputs_embeds(language_, ids, image_token_id, image_embeds, "DeepSeekOcr::embed");
  }
  Tensor<float, 2> embed(const ModelInputs& inputs, View<const float, 2> image_embeds) const {
    return embed(inputs.input_ids, inputs.image_token_id, image_embeds);
  }

  const Decoder& language_model() const noexcept { return language_; }
  Decoder& language_model() noexcept { return language_; }
  const vision::SamVit<VisionPolicy>& sam() const noexcept { return sam_; }
  const vision::ClipVit<VisionPolicy>& clip() const noexcept { return clip_; }
  const vision::Aligner<VisionPolicy>& projector() const noexcept { return projector_; }
  View<const float, 1> image_newline() const noexcept { return image_newline_.view(); }
  View<const float, 1> view_seperator() const noexcept { return view_seperator_.view(); }

 private:
  static const DeepSeekOcrConfig& checked(const DeepSeekOcrConfig& config, const std::string& where) {
    if constexpr (is_fixed) {
      const auto diff = differences(config, Fixed);
      if (!diff.empty()) {
        std::string msg = "the checkpoint's config does not match the compile-time DeepSeekOcrConfig (read vs fixed):";
        for (const auto& d : diff) msg += "\n  " + d;
        fail(where, msg);
      }
    }
    check_config(config, where);
    return config;
  }
  // The side of a view's square grid of n tokens, else an error naming `where`.
  static std::int64_t side_of(std::int64_t n, const char* where) {
    const std::int64_t s = square_side(n);
    DSVL_CHECK(s >= 1, where, "a view has ", n, " tokens, expected a square");
    return s;
  }

  DeepSeekOcrConfig config_;
  vision::SamVit<VisionPolicy> sam_;
  vision::ClipVit<VisionPolicy> clip_;
  vision::Aligner<VisionPolicy> projector_;
  nn::Weight<float, 1> image_newline_, view_seperator_;  // added to f32 activations: kept f32
  Decoder language_;
  std::shared_ptr<const io::Checkpoint> checkpoint_;
};

}  // namespace dsvl::models
