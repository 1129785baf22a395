#pragma once
// DeepSeekOcrProcessor: a Request (models/request.hpp) to DeepSeek-OCR's inputs, as the official
// DeepseekOCRProcessor.tokenize_with_images builds them (process/image_process.py, with the
// constants of config.py per mode):
//
//   mode     base_size  image_size  crop   views of one page
//   tiny        512        512       no    the page stretched to 512 x 512 (Pillow bicubic)
//   small       640        640       no    the page stretched to 640 x 640
//   base       1024       1024       no    ImageOps.pad(page, 1024 x 1024, colour int(mean * 255))
//   large      1280       1280       no    the same at 1280
//   gundam     1024        640       yes   the padded 1024 global view, plus, when a side of the
//                                          page exceeds 640, 640-px tiles (vision/aspect_ratio_tiling.hpp)
// Views are normalised with the processor's image_mean and image_std (0.5, 0.5: [-1, 1]).
//
// The prompt is "plain" (no roles): BOS, then the text split on "<image>", each piece encoded on
// its own and each tag becoming its page's image ids; a Request with a conversation must hold one
// user message (its text is the prompt). With t = ceil((base_size // 16) / 4) and q =
// ceil((image_size // 16) / 4) a page takes (t + 1) * t + 1 image ids, plus (q * nw + 1) * (q * nh)
// when it is tiled nw x nh. The pages' global views go to ModelInputs::pixel_values, their tiles
// to local_pixel_values, and ImageGrid holds the tile grid (0 x 0 for an untiled page).

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/threading.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/io/json_get.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "dsvl/language/chat_format.hpp"
#include "dsvl/models/deepseek_ocr_config.hpp"
#include "dsvl/models/request.hpp"
#include "dsvl/vision/aspect_ratio_tiling.hpp"
#include "dsvl/vision/pixel_norm.hpp"
#include "dsvl/vision/preprocess.hpp"

namespace dsvl::models {

struct OcrMode {
  std::string_view name;
  std::int64_t base_size = 0, image_size = 0;
  bool crop = false;
};

inline constexpr std::array<OcrMode, 5> kOcrModes{{
    {"tiny", 512, 512, false},
    {"small", 640, 640, false},
    {"base", 1024, 1024, false},
    {"large", 1280, 1280, false},
    {"gundam", 1024, 640, true},
}};
// The defaults: Gundam (config.py) with at most 9 tiles (the Hugging Face release's
// modeling_deepseekocr.py; the vLLM config.py lowers it to 6 to save GPU memory).
inline constexpr std::string_view kDefaultOcrMode = "gundam";
inline constexpr std::int64_t kDefaultOcrMaxTiles = 9;
// A page is tiled only when a side exceeds this (image_process.py's constant).
inline constexpr std::int64_t kOcrTileThreshold = 640;

inline const OcrMode& ocr_mode(std::string_view name) {
  for (const auto& m : kOcrModes)
    if (m.name == name) return m;
  std::string known;
  for (const auto& m : kOcrModes) known += std::string(known.empty() ? "" : ", ") + std::string(m.name);
  fail("DeepSeek-OCR", "image mode \"", name, "\" is not one of ", known);
}

class DeepSeekOcrProcessor {
 public:
  DeepSeekOcrProcessor(io::Tokenizer tokenizer, DeepSeekOcrConfig config, vision::PixelNorm norm = vision::kSiglipPixelNorm,
                       std::int64_t max_tiles = kDefaultOcrMaxTiles,
                       vision::PillowVersion pillow = vision::kDefaultPillowVersion)
      : tokenizer_(std::move(tokenizer)), config_(std::move(config)), norm_(norm), max_tiles_(max_tiles), pillow_(pillow) {
    vision::aspect_ratio_grids(max_tiles_);  // checks the range
  }

  // tokenizer.json and, when present, processor_config.json (image_mean, image_std, normalize;
  // the official processor fixes the patch size and the downsampling and reads nothing else).
  static DeepSeekOcrProcessor from_directory(const std::filesystem::path& dir, const DeepSeekOcrConfig& config,
                                             vision::PillowVersion pillow = vision::kDefaultPillowVersion) {
    vision::PixelNorm norm = vision::kSiglipPixelNorm;
    const auto file = dir / "processor_config.json";
    if (std::filesystem::exists(file)) {
      const auto j = io::read_json(file);
      const std::string where = file.string();
      const auto triple = [&](const char* key, std::array<double, 3>& out) {
        if (io::json_find(j, key) == nullptr) return;
        const auto v = io::json_get<std::vector<double>>(j, key, where);
        if (v.size() != 3) fail(where, "field '", key, "' has ", v.size(), " values, expected 3");
        std::copy(v.begin(), v.end(), out.begin());
      };
      triple("image_mean", norm.mean);
      triple("image_std", norm.std);
      if (!io::json_get_or(j, "normalize", true, where)) norm = vision::PixelNorm{};
    }
    return {io::Tokenizer::from_file(dir / "tokenizer.json"), config, norm, kDefaultOcrMaxTiles, pillow};
  }

  ModelInputs operator()(const Request& request, ThreadPool& pool = ThreadPool::global()) const {
    const OcrMode& mode = ocr_mode(request.image_mode.empty() ? kDefaultOcrMode : std::string_view(request.image_mode));
    const auto pages = detail::decode_images(request.images);
    const std::int64_t B = mode.base_size, S = mode.image_size;
    ModelInputs in;
    std::vector<std::size_t> counts;
    std::vector<Tensor<std::uint8_t, 3>> globals;
    std::vector<Tensor<std::uint8_t, 4>> tiles;
    std::int64_t n_tiles = 0;
    const std::array<std::uint8_t, 3> fill = background();
    for (const auto& page : pages) {
      const std::int64_t h = page.shape(0), w = page.shape(1);
      DSVL_CHECK(h >= 1 && w >= 1 && page.shape(2) == 3, "DeepSeek-OCR", "a page is ", w, "x", h, "x", page.shape(2),
                 ", expected a non-empty RGB image");
      const ImageGrid g = grid(w, h, mode);
      if (g.width_tiles > 0) {
        tiles.push_back(vision::cut_tiles(page.view(), {g.width_tiles, g.height_tiles}, S, pillow_, pool));
        n_tiles += g.width_tiles * g.height_tiles;
      }
      if (!mode.crop && S <= kOcrTileThreshold)
        globals.push_back(vision::resize_bicubic(page.view(), S, S, pillow_, pool));
      else
        globals.push_back(vision::contain_and_pad(page.view(), B, B, fill, {0.5, 0.5}, pillow_, pool));
      in.images.push_back(g);
      in.image_sizes.push_back({w, h});
      counts.push_back(static_cast<std::size_t>(image_token_count(g, mode)));
    }
    const auto prompt = language::deepseek_vl2::encode_raw_prompt(tokenizer_, prompt_text(request), counts);
    in.input_ids = prompt.input_ids;
    in.image_token_id = prompt.image_token_id;
    in.image_spans = prompt.images;
    const std::int64_t G = globals.empty() ? 0 : globals.front().shape(0);
    in.pixel_values = Tensor<float, 4>({static_cast<std::int64_t>(globals.size()), 3, G, G});
    for (std::size_t i = 0; i < globals.size(); ++i)
      vision::to_pixel_values(globals[i].view(), norm_, in.pixel_values.view()[static_cast<std::int64_t>(i)]);
    if (n_tiles > 0) {
      in.local_pixel_values = Tensor<float, 4>({n_tiles, 3, S, S});
      std::int64_t at = 0;
      for (const auto& page_tiles : tiles)
        for (std::int64_t i = 0; i < page_tiles.shape(0); ++i)
          vision::to_pixel_values(page_tiles.view()[i], norm_, in.local_pixel_values.view()[at++]);
    }
    return in;
  }

  // The tile grid of a width x height page in `mode` (0 x 0: not tiled).
  ImageGrid grid(std::int64_t width, std::int64_t height, const OcrMode& mode) const {
    if (!mode.crop || (width <= kOcrTileThreshold && height <= kOcrTileThreshold)) return {0, 0};
    const vision::TileGrid g = vision::closest_aspect_ratio_grid(width, height, mode.image_size, max_tiles_);
    return {g.width_tiles, g.height_tiles};
  }
  // The image ids of a page of that grid: (t + 1) t + 1, plus (q nw + 1)(q nh) when tiled.
  std::int64_t image_token_count(ImageGrid g, const OcrMode& mode) const {
    const std::int64_t t = config_.tokens_per_side(mode.base_size), q = config_.tokens_per_side(mode.image_size);
    return (t + 1) * t + 1 + (g.width_tiles > 0 ? (q * g.width_tiles + 1) * (q * g.height_tiles) : 0);
  }

  // Generation ends at the tokenizer's EOS.
  std::vector<std::int32_t> stop_ids() const { return language::deepseek_vl2::stop_token_ids(tokenizer_); }
  const io::Tokenizer& tokenizer() const noexcept { return tokenizer_; }
  std::int64_t max_tiles() const noexcept { return max_tiles_; }

 private:
  // The pad colour: int(mean * 255) per channel.
  std::array<std::uint8_t, 3> background() const noexcept {
    std::array<std::uint8_t, 3> c{};
    for (std::size_t i = 0; i < 3; ++i) c[i] = static_cast<std::uint8_t>(static_cast<int>(norm_.mean[i] * 255));
    return c;
  }

  // The plain prompt: raw_prompt, or the one user message of the conversation; the grounding tag
  // and the image-tag convenience ("<image>\n" per page before the text) applied.
  static std::string prompt_text(const Request& r) {
    constexpr std::string_view tag = language::deepseek_vl2::kImageTag;
    if (!r.raw_prompt.empty()) return detail::prepared_raw_prompt(r, tag, "\n");
    const auto& messages = r.conversation.messages;
    if (messages.size() != 1 || messages.front().role != language::Role::user)
      fail("DeepSeek-OCR", "the prompt is plain text: give raw_prompt or a conversation of one user message (got ",
           messages.size(), " messages)");
    Request plain = r;
    plain.raw_prompt = messages.front().content;
    return detail::prepared_raw_prompt(plain, tag, "\n");
  }

  io::Tokenizer tokenizer_;
  DeepSeekOcrConfig config_;
  vision::PixelNorm norm_;
  std::int64_t max_tiles_;
  vision::PillowVersion pillow_;
};

}  // namespace dsvl::models
