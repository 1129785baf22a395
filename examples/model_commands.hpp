// `dsvl run`, `dsvl forward`, `dsvl inspect`, `dsvl quantize` and `dsvl random-model`: DeepSeek-VL (v1) and
// DeepSeek-VL2 model directories on the command line. The family comes from config.json's
// model_type; the request becomes prompt ids and inputs_embeds in the family's own way, and
// generation and its report are shared.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/dsvl.hpp"
#include "dsvl/io/image.hpp"

namespace dsvl::tool {

inline constexpr const char* kRunUsage =
    "usage: dsvl run --model DIR [--image PATH]... --prompt TEXT [--max-new-tokens N] [--temperature T]\n"
    "                [--top-p P] [--top-k K] [--repetition-penalty R] [--seed S] [--weights auto|f32|bf16|q8|q4]\n"
    "                [--vision-weights auto|q8|q4] [--kv-cache f32|bf16] [--raw] [--ignore-eos] [--grounding]\n"
    "                [--draw-boxes OUT.png]\n"
    "  Answers TEXT about the images with a DeepSeek-VL or DeepSeek-VL2 model directory (config.json,\n"
    "  safetensors, tokenizer.json, and preprocessor_config.json or processor_config.json), formatted\n"
    "  as the official chat processor does, and streams the answer to stdout; load, image-encode,\n"
    "  prefill and decode figures go to stderr.\n"
    "  Each image needs a tag in TEXT (<image_placeholder> for DeepSeek-VL, <image> for DeepSeek-VL2);\n"
    "  when TEXT has none, one per image is put first. DeepSeek-VL2 tiles each image when the request\n"
    "  has at most two.\n"
    "  --grounding (DeepSeek-VL2): asks for a grounded answer (<|grounding|> before TEXT unless TEXT\n"
    "  has <|ref|> or <|grounding|>) and prints each box of the answer with its label, in pixels of\n"
    "  the first image; --draw-boxes writes that image with the boxes and labels drawn.\n"
    "  Images: PNG or JPEG. Sampling: greedy unless --temperature > 0 (default max-new-tokens 512).\n"
    "  --weights: how matrices are held in memory (auto: as the checkpoint stores them; q8, q4: the\n"
    "  language model's matrices quantized at load, 8 or 4 bits with a scale per 32 weights, unless\n"
    "  the directory was written by dsvl quantize, whose matrices are read in place).\n"
    "  --vision-weights: the vision side's matrices (the towers' blocks, the aligner or projector):\n"
    "  auto keeps them in a float type (bf16 under --weights q8 or q4) unless dsvl quantize stored\n"
    "  them quantized; q8 or q4 quantizes them at load, with --weights q8 or q4. q4 encodes an image\n"
    "  about twice as fast as bf16, with a larger error (docs/quantization.md).\n"
    "  --kv-cache: the KV cache's elements (default f32; bf16 halves its memory and what each decode\n"
    "  step reads from it).\n"
    "  --raw: TEXT is the whole prompt, as in dsvl forward (no chat template).\n"
    "  --ignore-eos: generate max-new-tokens tokens whatever they are (for benchmarks).\n";

inline constexpr const char* kForwardUsage =
    "usage: dsvl forward --model DIR [--image PATH]... --prompt RAW --out FILE.safetensors [--weights ...]\n"
    "                    [--vision-weights ...]\n"
    "  One forward pass over RAW as written (BOS first, each image tag expanded to the image's tokens,\n"
    "  no chat template), saving input_ids I64 [T], pixel_values F32 (the vision tower's input:\n"
    "  [n, 3, S, S] for DeepSeek-VL, [n_tiles, 3, S, S] for DeepSeek-VL2, every image's global view\n"
    "  then its local tiles), image_embeds F32 [image tokens, D] (what replaces the image tokens) and\n"
    "  logits F32 [T, V].\n";

inline constexpr const char* kInspectUsage =
    "usage: dsvl inspect --model DIR\n"
    "  Prints the architecture, the parameter count, the dtypes of the checkpoint and every tensor that\n"
    "  is missing, unexpected or of the wrong shape.\n";

inline constexpr const char* kQuantizeUsage =
    "usage: dsvl quantize --model DIR --weights q8|q4 [--vision-weights q8|q4] --out DIR\n"
    "  Writes a copy of a model directory whose language-model matrices (and with --vision-weights\n"
    "  the vision side's) are stored as dsvl run --weights q8 or q4 (--vision-weights) holds them\n"
    "  (docs/quantization.md), so that loading it reads them in place instead of quantizing again;\n"
    "  every other tensor is kept as loaded and every other file is copied. dsvl run recognises the\n"
    "  copy with --weights and --vision-weights auto.\n";

inline constexpr const char* kRandomModelUsage =
    "usage: dsvl random-model --preset 1.3b|7b|vl2-tiny|vl2-small|vl2-base --out DIR [--dtype bf16|f32]\n"
    "                         [--tokenizer FILE] [--seed S] [--routed-experts N]\n"
    "  Writes a model directory with random weights in the exact shapes of deepseek-vl-1.3b-chat,\n"
    "  deepseek-vl-7b-chat, deepseek-vl2-tiny, deepseek-vl2-small or deepseek-vl2 (config.json,\n"
    "  model.safetensors, the processor's config, and tokenizer.json copied from FILE), for\n"
    "  benchmarks. Needs memory for one tensor at a time.\n"
    "  --routed-experts N (DeepSeek-VL2): N routed experts per MoE layer instead of the preset's, every\n"
    "  other size kept, so that a model too big for memory can be measured: a token still runs\n"
    "  num_experts_per_tok routed experts and the shared ones, the same work and the same bytes.\n";

struct ModelArgs {
  std::string model, prompt, out, weights = "auto", vision_weights = "auto", preset, dtype = "bf16", tokenizer,
      draw_boxes, kv_cache = "f32";
  std::vector<std::string> images;
  std::int64_t max_new_tokens = 512, top_k = 0, routed_experts = 0;
  float temperature = 0.0f, top_p = 1.0f, repetition_penalty = 1.0f;
  std::uint64_t seed = 0;
  bool help = false, raw = false, ignore_eos = false, grounding = false;
};

inline ModelArgs parse_model_args(std::span<char*> args) {
  ModelArgs a;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) fail("dsvl", "option ", arg, " needs a value");
      return args[++i];
    };
    auto number = [&](auto& out) {
      const std::string v = value();
      std::istringstream is(v);
      if (!(is >> out) || !is.eof()) fail("dsvl", "option ", arg, ": '", v, "' is not a number");
    };
    if (arg == "--model") a.model = value();
    else if (arg == "--image") a.images.push_back(value());
    else if (arg == "--prompt") a.prompt = value();
    else if (arg == "--out") a.out = value();
    else if (arg == "--weights") a.weights = value();
    else if (arg == "--vision-weights") a.vision_weights = value();
    else if (arg == "--kv-cache") a.kv_cache = value();
    else if (arg == "--preset") a.preset = value();
    else if (arg == "--dtype") a.dtype = value();
    else if (arg == "--tokenizer") a.tokenizer = value();
    else if (arg == "--max-new-tokens") number(a.max_new_tokens);
    else if (arg == "--top-k") number(a.top_k);
    else if (arg == "--routed-experts") number(a.routed_experts);
    else if (arg == "--temperature") number(a.temperature);
    else if (arg == "--top-p") number(a.top_p);
    else if (arg == "--repetition-penalty") number(a.repetition_penalty);
    else if (arg == "--seed") number(a.seed);
    else if (arg == "--raw") a.raw = true;
    else if (arg == "--ignore-eos") a.ignore_eos = true;
    else if (arg == "--grounding") a.grounding = true;
    else if (arg == "--draw-boxes") a.draw_boxes = value();
    else if (arg == "--help" || arg == "-h") a.help = true;
    else fail("dsvl", "unknown option '", arg, "'");
  }
  return a;
}

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Reads every page of the checkpoint once (the weights are memory-mapped), with a progress line
// when stderr is a terminal, so that load time is paid here and not in the first forward pass.
inline void prefetch(const io::Checkpoint& ckpt) {
  std::size_t total = 0, done = 0;
  for (const auto name : ckpt.names()) total += ckpt.info(name).bytes.size();
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  int shown = -1;
  volatile unsigned char sink = 0;
  for (const auto name : ckpt.names()) {
    const auto bytes = ckpt.info(name).bytes;
    unsigned char acc = 0;
    for (std::size_t i = 0; i < bytes.size(); i += 4096) acc ^= static_cast<unsigned char>(bytes[i]);
    sink = sink ^ acc;
    done += bytes.size();
    const int pct = total ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)) : 100;
    if (tty && pct != shown) {
      std::fprintf(stderr, "\rloading %s: %3d%% of %.2f GB", ckpt.path().string().c_str(), pct, total / 1e9);
      shown = pct;
    }
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
}

// The checkpoint's dtype for matrices: that of the language model's embedding table.
inline DType stored_dtype(const io::Checkpoint& ckpt) {
  for (const char* probe : {"language_model.model.embed_tokens.weight", "language.model.embed_tokens.weight"})
    if (ckpt.contains(probe)) return ckpt.info(probe).dtype;
  return DType::f32;
}

enum class Family { deepseek_vl, deepseek_vl2 };

// The model family of a directory, from config.json's model_type.
inline Family model_family(const std::filesystem::path& dir) {
  if (dir.empty()) fail("dsvl", "--model DIR is required");
  if (!std::filesystem::is_directory(dir)) fail(dir.string(), "no such model directory");
  const auto file = dir / "config.json";
  const auto type = io::json_get<std::string>(io::read_json(file), "model_type", file.string());
  if (type == "multi_modality") return Family::deepseek_vl;
  if (type == "deepseek_vl_v2") return Family::deepseek_vl2;
  fail(file.string(), "field 'model_type' is \"", type,
       "\", expected \"multi_modality\" (DeepSeek-VL) or \"deepseek_vl_v2\" (DeepSeek-VL2)");
}

// The metadata keys of a checkpoint written by dsvl quantize: the --weights it was written for,
// and its --vision-weights when the vision side is quantized too.
inline constexpr const char* kQuantizedMetadata = "dsvl.weights";
inline constexpr const char* kQuantizedVisionMetadata = "dsvl.vision_weights";

// The value of a metadata key in the checkpoint's files, else "".
inline std::string stored_metadata(const io::Checkpoint& ckpt, const char* key) {
  for (const auto& f : ckpt.files())
    if (const auto it = f.metadata().find(key); it != f.metadata().end()) return it->second;
  return {};
}

// "q8" or "q4" for a checkpoint written by dsvl quantize, else "".
inline std::string stored_quantization(const io::Checkpoint& ckpt) { return stored_metadata(ckpt, kQuantizedMetadata); }

// --weights with auto resolved: the checkpoint's quantization, else its dtype for matrices.
inline std::string resolve_weights(const std::string& weights, const io::Checkpoint& ckpt) {
  if (weights != "auto") return weights;
  if (auto q = stored_quantization(ckpt); !q.empty()) return q;
  return stored_dtype(ckpt) == DType::bf16 ? "bf16" : "f32";
}

// --vision-weights with auto resolved: the checkpoint's quantization of the vision side, else
// "float" (the float type of the language model's policy).
inline std::string resolve_vision_weights(const std::string& vision_weights, const io::Checkpoint& ckpt) {
  if (vision_weights != "auto") return vision_weights;
  if (auto q = stored_metadata(ckpt, kQuantizedVisionMetadata); !q.empty()) return q;
  return "float";
}

// Calls f(P{}, VisionP{}) with the kernel policies for the requested weight storage: P for the
// language model, VisionP for the vision side. The vision side is quantized only under a quantized
// P, which keeps the number of model types this tool builds down.
template <class F>
int with_policies(const std::string& weights, const std::string& vision_weights, const io::Checkpoint& ckpt, F&& f) {
  const std::string v = resolve_vision_weights(vision_weights, ckpt);
  if (v != "float" && v != "q8" && v != "q4")
    fail("dsvl", "--vision-weights is '", vision_weights, "', expected auto, q8 or q4");
  const auto with_vision = [&](auto policy) -> int {
    using P = decltype(policy);
    if (v == "float") return f(policy, dense_policy_t<P>{});
    if constexpr (is_quant_format_v<typename P::weight_type>) {
      if (v == "q8") return f(policy, policies::HwyQ8{});
      return f(policy, policies::HwyQ4{});
    }
    fail("dsvl", vision_weights == "auto" ? "the checkpoint's vision matrices are stored as " : "--vision-weights ",
         v, ", which needs --weights q8 or q4");
  };
  const std::string w = resolve_weights(weights, ckpt);
  if (w == "f32") return with_vision(policies::HwyF32{});
  if (w == "bf16") return with_vision(policies::HwyBF16{});
  if (w == "q8") return with_vision(policies::HwyQ8{});
  if (w == "q4") return with_vision(policies::HwyQ4{});
  fail("dsvl", "--weights is '", weights, "', expected auto, f32, bf16, q8 or q4");
}

struct Loaded {
  models::DeepSeekVLConfig config;
  std::shared_ptr<const io::Checkpoint> ckpt;
  io::Tokenizer tokenizer;
  vision::VLMImageProcessorConfig processor;
};

// Whether the policies chosen by --weights and --vision-weights keep reading the checkpoint's
// pages after loading. One that quantizes at load reads each tensor once and then releases its
// pages, so a read-ahead of the whole file would only raise the peak memory to the file's size.
inline bool reads_weights_in_place(const ModelArgs& a, const io::Checkpoint& ckpt) {
  // A float type, or the quantization the checkpoint stores.
  const auto in_place = [&](const std::string& resolved, const char* stored_key) {
    return (resolved != "q8" && resolved != "q4") || resolved == stored_metadata(ckpt, stored_key);
  };
  return in_place(resolve_weights(a.weights, ckpt), kQuantizedMetadata) &&
         in_place(resolve_vision_weights(a.vision_weights, ckpt), kQuantizedVisionMetadata);
}

inline Loaded open_model_dir(const ModelArgs& a) {
  const std::filesystem::path dir = a.model;
  if (dir.empty()) fail("dsvl", "--model DIR is required");
  auto config = models::read_deepseek_vl_config(dir);
  auto ckpt = std::make_shared<const io::Checkpoint>(io::Checkpoint::open(dir));
  if (reads_weights_in_place(a, *ckpt)) prefetch(*ckpt);
  return {config, std::move(ckpt), io::Tokenizer::from_file(dir / "tokenizer.json"),
          vision::read_vlm_image_processor_config(dir / "preprocessor_config.json")};
}

// The processor's pixel values of every image: (n, 3, S, S).
inline Tensor<float, 4> read_pixels(const std::vector<std::string>& images, const vision::VLMImageProcessorConfig& c,
                                    std::int64_t model_size) {
  if (c.image_size != model_size)
    fail("dsvl", "preprocessor_config.json has image_size ", c.image_size, " but the model takes ", model_size);
  Tensor<float, 4> px({static_cast<std::int64_t>(images.size()), 3, c.image_size, c.image_size});
  for (std::size_t i = 0; i < images.size(); ++i)
    vision::vlm_preprocess(io::read_image(images[i]).view(), c, px.view()[static_cast<std::int64_t>(i)]);
  return px;
}

inline std::string with_image_tags(const std::string& prompt, std::size_t images) {
  if (prompt.find(language::deepseek_vl::kImageTag) != std::string::npos) return prompt;
  std::string out;
  for (std::size_t i = 0; i < images; ++i) out += language::deepseek_vl::kImageTag;
  return out + prompt;
}

// A request as the language model sees it.
struct Prompt {
  std::vector<std::int32_t> ids;
  std::int32_t image_token_id = -1;
  Tensor<float, 2> image_embeds;  // the rows that replace the image tokens, in order
  Tensor<float, 2> x;             // inputs_embeds (T, D)
  double image_s = 0;             // image preprocessing and encoding
};

// DeepSeek-VL: every image resized and padded to one square, one run of image tokens each.
template <class Model>
Prompt deepseek_vl_prompt(const Model& model, const Loaded& m, const ModelArgs& a, bool raw, Tensor<float, 4>* pixels_out = nullptr) {
  const auto K = static_cast<std::size_t>(model.num_image_tokens());
  const std::string text = with_image_tags(a.prompt, a.images.size());
  Prompt p;
  const auto prompt =
      raw ? language::deepseek_vl::encode_raw_prompt(m.tokenizer, text, a.images.size(), K)
          : language::deepseek_vl::encode_prompt(m.tokenizer, language::Conversation{}.user(text).assistant(),
                                                 a.images.size(), K);
  p.ids = prompt.input_ids;
  p.image_token_id = prompt.image_token_id;
  const auto t_image = Clock::now();
  auto pixels = read_pixels(a.images, m.processor, model.image_size());
  p.image_embeds = model.encode_images(View<const float, 4>(pixels.view()));
  p.image_s = seconds_since(t_image);
  p.x = model.embed(p.ids, p.image_token_id, std::as_const(p.image_embeds).view());
  if (pixels_out) *pixels_out = std::move(pixels);
  return p;
}

struct LoadedVL2 {
  models::DeepSeekVL2Config config;
  std::shared_ptr<const io::Checkpoint> ckpt;
  io::Tokenizer tokenizer;
  vision::VL2ImageProcessorConfig processor;
};

inline LoadedVL2 open_vl2_dir(const ModelArgs& a) {
  const std::filesystem::path dir = a.model;
  auto config = models::read_deepseek_vl2_config(dir);
  auto processor = vision::read_vl2_image_processor_config(dir / "processor_config.json");
  if (processor.tile_size() != config.tile_size())
    fail((dir / "processor_config.json").string(), "candidate_resolutions start with tiles of ", processor.tile_size(),
         " pixels but the model's vision_config image_size is ", config.tile_size());
  auto ckpt = std::make_shared<const io::Checkpoint>(io::Checkpoint::open(dir));
  if (reads_weights_in_place(a, *ckpt)) prefetch(*ckpt);
  return {config, std::move(ckpt), io::Tokenizer::from_file(dir / "tokenizer.json"), processor};
}

// DeepSeek-VL2: each image tiled (when the request has at most two), its tiles encoded and laid
// out with image_newline and view_seperator.
struct VL2Images {
  std::vector<Tensor<std::uint8_t, 3>> rgb;
  std::vector<vision::ImageTiles> tiles;
  Tensor<float, 4> pixels;  // (n_tiles, 3, S, S)
};

inline VL2Images read_vl2_images(const std::vector<std::string>& paths, const vision::VL2ImageProcessorConfig& c) {
  VL2Images im;
  std::int64_t n = 0;
  for (const auto& path : paths) {
    im.rgb.push_back(io::read_image(path));
    im.tiles.push_back(vision::tile_image(std::as_const(im.rgb.back()).view(), c, vision::cropping_enabled(paths.size())));
    n += im.tiles.back().num_tiles();
  }
  im.pixels = Tensor<float, 4>({n, 3, c.tile_size(), c.tile_size()});
  std::int64_t at = 0;
  for (const auto& t : im.tiles) {
    vision::tile_pixel_values(t, c, im.pixels.view().slice(0, at, at + t.num_tiles()));
    at += t.num_tiles();
  }
  return im;
}

inline std::string with_vl2_tags(std::string text, std::size_t images, bool grounding) {
  using namespace language::deepseek_vl2;
  const bool tagged = text.find(kImageTag) != std::string::npos;
  if (grounding && text.find("<|ref|>") == std::string::npos && text.find("<|grounding|>") == std::string::npos)
    text = "<|grounding|>" + text;
  if (tagged) return text;
  std::string out;
  for (std::size_t i = 0; i < images; ++i) out += std::string(kImageTag) + "\n";
  return out + text;
}

template <class Model>
Prompt deepseek_vl2_prompt(const Model& model, const LoadedVL2& m, const ModelArgs& a, const VL2Images& im, bool raw) {
  Prompt p;
  std::vector<std::size_t> counts;
  for (const auto& t : im.tiles)
    counts.push_back(static_cast<std::size_t>(model.image_token_count(t.width_tiles, t.height_tiles)));
  const std::string text = with_vl2_tags(a.prompt, a.images.size(), a.grounding);
  const auto prompt =
      raw ? language::deepseek_vl2::encode_raw_prompt(m.tokenizer, text, counts)
          : language::deepseek_vl2::encode_prompt(m.tokenizer, language::Conversation{}.user(text).assistant(), counts);
  p.ids = prompt.input_ids;
  p.image_token_id = prompt.image_token_id;
  const auto t_image = Clock::now();
  std::int64_t total = 0;
  for (const auto n : counts) total += static_cast<std::int64_t>(n);
  p.image_embeds = Tensor<float, 2>({total, model.hidden_size()});
  if (im.pixels.shape(0) > 0) {
    const auto tokens = model.encode_tiles(std::as_const(im.pixels).view());
    std::int64_t tile = 0, row = 0;
    for (const auto& t : im.tiles) {
      const auto e = model.image_embeddings(std::as_const(tokens).view().slice(0, tile, tile + t.num_tiles()),
                                            t.width_tiles, t.height_tiles);
      std::copy_n(e.data(), e.size(), p.image_embeds.data() + row * model.hidden_size());
      tile += t.num_tiles();
      row += e.shape(0);
    }
  }
  p.image_s = seconds_since(t_image);
  p.x = model.embed(p.ids, p.image_token_id, std::as_const(p.image_embeds).view());
  return p;
}

// Generates the answer to `p`, streams it to stdout (special tokens shown only with
// keep_special, stop ids never) and reports the figures on stderr. Returns the answer's ids
// without its stop id.
template <class Decoder>
std::vector<std::int32_t> answer(const Decoder& lm, const Prompt& p, const io::Tokenizer& tok,
                                 std::vector<std::int32_t> stop_ids, const ModelArgs& a, double load_s,
                                 bool keep_special) {
  const std::int64_t T = p.x.shape(0);
  const std::int64_t room = std::min(T + a.max_new_tokens, lm.config().max_position_embeddings);
  if (room <= T)
    fail("dsvl run", "the prompt has ", T, " tokens, max_position_embeddings is ", lm.config().max_position_embeddings);
  if (a.kv_cache != "f32" && a.kv_cache != "bf16") fail("dsvl run", "--kv-cache is f32 or bf16, not '", a.kv_cache, "'");
  auto cache = lm.make_cache(room, a.kv_cache == "bf16" ? DType::bf16 : DType::f32);
  std::vector<std::int32_t> history = p.ids;
  language::Sampler sampler(language::SamplingConfig{a.temperature, a.top_k, a.top_p, a.repetition_penalty, a.seed});
  io::Detokenizer detok(tok, /*skip_special_tokens=*/!keep_special);
  if (a.ignore_eos) stop_ids.clear();
  const auto t_prefill = Clock::now();
  Clock::time_point t_first{};
  std::int64_t generated = 0, textless = 0;  // ids past the tokenizer's vocabulary have no text
  std::vector<std::int32_t> out;
  const auto g = language::generate(
      lm, std::as_const(p.x).view(), cache, history, language::GenerationOptions{a.max_new_tokens, stop_ids}, sampler,
      [&](std::int32_t id) {
        if (generated++ == 0) t_first = Clock::now();
        if (std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end()) return true;
        out.push_back(id);
        if (!tok.id_to_token(id)) ++textless;
        else std::cout << detok.push(id) << std::flush;
        return true;
      });
  std::cout << detok.finish() << std::endl;  // before the figures on stderr, also when stdout is a pipe
  if (textless > 0)
    std::fprintf(stderr, "note: %lld generated ids are past the tokenizer's vocabulary and have no text\n",
                 static_cast<long long>(textless));
  const double prefill_s = std::chrono::duration<double>(t_first - t_prefill).count();
  const double decode_s = seconds_since(t_first);
  const std::size_t images = a.images.size();
  std::fprintf(stderr,
               "load %.2f s | image encode %.0f ms (%zu image%s) | prefill %lld tokens in %.2f s (%.1f tokens/s) | "
               "decode %lld tokens in %.2f s (%.2f tokens/s) | KV cache %.1f KiB per token\n",
               load_s, p.image_s * 1e3, images, images == 1 ? "" : "s", static_cast<long long>(T), prefill_s,
               static_cast<double>(T) / prefill_s, static_cast<long long>(g.tokens.size() - 1), decode_s,
               g.tokens.size() > 1 ? static_cast<double>(g.tokens.size() - 1) / decode_s : 0.0,
               static_cast<double>(cache.bytes_per_token()) / 1024.0);
  return out;
}

// The boxes of a grounded answer, in pixels of `image`, one line each on stdout; with a path,
// the image with the boxes drawn is written there.
inline void report_grounding(const std::string& text, const Tensor<std::uint8_t, 3>& image, const std::string& draw_path) {
  const int W = static_cast<int>(image.shape(1)), H = static_cast<int>(image.shape(0));
  const auto g = language::parse_grounding(text, W, H);
  std::cout << "boxes (" << W << "x" << H << " px): " << g.boxes.size() << "\n";
  for (const auto& b : g.boxes) {
    const std::string_view label = g.label(b);
    std::cout << "  " << (label.empty() ? std::string_view("(no label)") : label) << ": [" << b.pixels.x1 << ", "
              << b.pixels.y1 << ", " << b.pixels.x2 << ", " << b.pixels.y2 << "]\n";
  }
  for (const auto& problem : g.problems) std::cerr << "grounding: " << language::to_string(problem) << "\n";
  if (draw_path.empty()) return;
  Tensor<std::uint8_t, 3> canvas = image.clone();
  vision::draw_grounding(canvas.view(), g);
  io::write_png(draw_path, std::as_const(canvas).view());
  std::cerr << "wrote " << draw_path << "\n";
}

// A request ready for the language model: the prompt, the pixels it encoded and, for
// DeepSeek-VL2, the decoded images (grounding draws on the first).
struct Request {
  Prompt prompt;
  Tensor<float, 4> pixels;
  std::vector<Tensor<std::uint8_t, 3>> rgb;
};

template <class Model>
Request make_request(const Model& model, const Loaded& m, const ModelArgs& a, bool raw) {
  Request r;
  r.prompt = deepseek_vl_prompt(model, m, a, raw, &r.pixels);
  return r;
}

template <class Model>
Request make_request(const Model& model, const LoadedVL2& m, const ModelArgs& a, bool raw) {
  VL2Images im = read_vl2_images(a.images, m.processor);
  Request r;
  r.prompt = deepseek_vl2_prompt(model, m, a, im, raw);
  r.pixels = std::move(im.pixels);
  r.rgb = std::move(im.rgb);
  return r;
}

inline std::vector<std::int32_t> stop_token_ids(const Loaded& m) {
  return language::deepseek_vl::stop_token_ids(m.tokenizer);
}
inline std::vector<std::int32_t> stop_token_ids(const LoadedVL2& m) {
  return language::deepseek_vl2::stop_token_ids(m.tokenizer);
}

template <class P, class VisionP>
using DeepSeekVLModel = models::DeepSeekVL<P, models::kDynamicDeepSeekVL, VisionP>;
template <class P, class VisionP>
using DeepSeekVL2Model = models::DeepSeekVL2<P, models::kDynamicDeepSeekVL2, VisionP>;

// Loads the model of an opened directory with the policies for --weights and --vision-weights and
// returns f(model, m).
template <template <class, class> class Model, class Dir, class F>
int with_loaded(const ModelArgs& a, const Dir& m, F& f) {
  return with_policies(a.weights, a.vision_weights, *m.ckpt, [&](auto policy, auto vision_policy) {
    Model<decltype(policy), decltype(vision_policy)> model(m.config);
    model.load(m.ckpt);
    return f(model, m);
  });
}

// Opens --model and returns f(model, opened directory) with the model of the directory's family
// loaded for --weights.
template <class F>
int with_loaded_model(const ModelArgs& a, F&& f) {
  if (model_family(a.model) == Family::deepseek_vl)
    return with_loaded<DeepSeekVLModel>(a, open_model_dir(a), f);
  return with_loaded<DeepSeekVL2Model>(a, open_vl2_dir(a), f);
}

inline int run_model(std::span<char*> args) {
  const ModelArgs a = parse_model_args(args);
  if (a.help) return std::cout << kRunUsage, 0;
  if (a.prompt.empty()) fail("dsvl run", "--prompt TEXT is required");
  const auto t_load = Clock::now();
  if (model_family(a.model) == Family::deepseek_vl && (a.grounding || !a.draw_boxes.empty()))
    fail("dsvl run", "--grounding and --draw-boxes need a DeepSeek-VL2 model");
  if (!a.draw_boxes.empty() && !a.grounding) fail("dsvl run", "--draw-boxes needs --grounding");
  if (a.grounding && a.images.empty()) fail("dsvl run", "--grounding needs an --image");
  return with_loaded_model(a, [&](const auto& model, const auto& m) {
    const double load_s = seconds_since(t_load);
    const Request r = make_request(model, m, a, a.raw);
    const auto ids = answer(model.language_model(), r.prompt, m.tokenizer, stop_token_ids(m), a, load_s, a.grounding);
    if (a.grounding) {
      std::vector<std::int32_t> spelled;  // ids past the vocabulary have no text
      std::copy_if(ids.begin(), ids.end(), std::back_inserter(spelled),
                   [&](std::int32_t id) { return m.tokenizer.id_to_token(id).has_value(); });
      report_grounding(m.tokenizer.decode(spelled), r.rgb.front(), a.draw_boxes);
    }
    return 0;
  });
}

inline void write_forward(const ModelArgs& a, const Prompt& p, const Tensor<float, 4>& pixels, const Tensor<float, 2>& logits) {
  io::SafeTensorsWriter w;
  Tensor<std::int64_t, 1> ids({static_cast<std::int64_t>(p.ids.size())});
  for (std::size_t i = 0; i < p.ids.size(); ++i) ids.data()[i] = p.ids[i];
  w.add("input_ids", ids);
  w.add("pixel_values", pixels);
  w.add("image_embeds", p.image_embeds);
  w.add("logits", logits);
  w.write(a.out);
  std::cerr << "wrote " << a.out << ": " << ids.size() << " tokens, " << a.images.size() << " image(s)\n";
}

inline int forward_model(std::span<char*> args) {
  const ModelArgs a = parse_model_args(args);
  if (a.help) return std::cout << kForwardUsage, 0;
  if (a.out.empty()) fail("dsvl forward", "--out FILE.safetensors is required");
  return with_loaded_model(a, [&](const auto& model, const auto& m) {
    const Request r = make_request(model, m, a, /*raw=*/true);
    const auto& lm = model.language_model();
    auto cache = lm.make_cache(std::max<std::int64_t>(r.prompt.x.shape(0), 1));
    write_forward(a, r.prompt, r.pixels, lm.forward(std::as_const(r.prompt.x).view(), cache));
    return 0;
  });
}

// The parameter count, the checkpoint's dtypes and every weight problem of `model` on `ckpt`.
template <class Model>
int inspect_weights(Model& model, const io::Checkpoint& ckpt) {
  nn::WeightCount count;
  model.visit(count);
  std::map<std::string, std::pair<std::size_t, std::size_t>> dtypes;  // dtype -> (tensors, bytes)
  for (const auto name : ckpt.names()) {
    auto& d = dtypes[std::string(dtype_name(ckpt.info(name).dtype))];
    ++d.first;
    d.second += ckpt.info(name).bytes.size();
  }
  std::cout << "parameters: " << count.count << " (" << std::fixed << std::setprecision(2) << count.count / 1e9
            << " B) declared\ncheckpoint: " << ckpt.size() << " tensors in " << ckpt.files().size() << " file(s):";
  for (const auto& [name, d] : dtypes) std::cout << " " << name << " " << d.first << " (" << d.second / 1e9 << " GB)";
  std::cout << "\n";
  nn::WeightLoader check(ckpt, {}, /*bind=*/false);
  check.walk(model);
  try {
    check.finish();
    std::cout << "weights: every declared tensor present with its shape, none unexpected\n";
    return 0;
  } catch (const Error& e) {
    std::cout << "weights: " << e.what() << "\n";
    return 1;
  }
}

inline int inspect_model(std::span<char*> args) {
  const ModelArgs a = parse_model_args(args);
  if (a.help) return std::cout << kInspectUsage, 0;
  const Family family = model_family(a.model);
  const auto ckpt = io::Checkpoint::open(a.model);
  std::cout << "model: " << a.model << "\n";
  if (family == Family::deepseek_vl2) {
    const auto c = models::read_deepseek_vl2_config(a.model);
    const char* preset = c == models::kDeepSeekVL2Tiny    ? "equal to preset kDeepSeekVL2Tiny"
                         : c == models::kDeepSeekVL2Small ? "equal to preset kDeepSeekVL2Small"
                         : c == models::kDeepSeekVL2Base  ? "equal to preset kDeepSeekVL2Base"
                                                          : "not a released size";
    std::cout << "architecture: DeepSeek-VL2, " << (c.language.use_mla ? "MLA" : "MHA") << " DeepSeekMoE ("
              << c.language.n_routed_experts << " routed experts, top " << c.language.num_experts_per_tok << ", "
              << language::topk_method_name(c.language.topk_method) << "), " << preset << "\n  tiles: "
              << c.tile_size() << "x" << c.tile_size() << " px, " << c.tokens_per_tile_side() << "x"
              << c.tokens_per_tile_side() << " tokens each\n  SigLIP: " << vision::to_string(c.vision)
              << "\n  language: " << c.language << "\n";
    return with_policies("auto", "auto", ckpt, [&](auto policy, auto vision_policy) {
      DeepSeekVL2Model<decltype(policy), decltype(vision_policy)> model(c);
      return inspect_weights(model, ckpt);
    });
  }
  const auto c = models::read_deepseek_vl_config(a.model);
  std::cout << "architecture: DeepSeek-VL (v1), " << (c.hybrid() ? "HybridVisionTower (SAM + SigLIP)" : "CLIPVisionTower (SigLIP)")
            << ", " << (c == models::kDeepSeekVL_1_3B ? "equal to preset kDeepSeekVL_1_3B"
                        : c == models::kDeepSeekVL_7B ? "equal to preset kDeepSeekVL_7B"
                                                      : "not a released size")
            << "\n  images: " << c.image_size() << "x" << c.image_size() << " px, " << c.num_image_tokens()
            << " tokens each\n  SigLIP: " << vision::to_string(c.siglip) << "\n";
  if (c.hybrid()) std::cout << "  SAM: " << vision::to_string(c.sam) << "\n";
  std::cout << "  aligner: " << models::detail::aligner_string(c.aligner) << "\n  language: " << c.language << "\n";
  return with_policies("auto", "auto", ckpt, [&](auto policy, auto vision_policy) {
    DeepSeekVLModel<decltype(policy), decltype(vision_policy)> model(c);
    return inspect_weights(model, ckpt);
  });
}

// Writes `model`'s weights as it holds them (quantized matrices as codes and scales), marked with
// the --weights and --vision-weights they were loaded for.
template <class Model>
void write_weights(Model& model, const ModelArgs& a, const std::filesystem::path& file) {
  io::SafeTensorsWriter w;
  nn::WeightSaver saver(w);
  model.visit(saver);
  w.set_metadata(kQuantizedMetadata, a.weights);
  if (a.vision_weights != "auto") w.set_metadata(kQuantizedVisionMetadata, a.vision_weights);
  w.write(file);
}

inline int quantize_model(std::span<char*> args) {
  namespace fs = std::filesystem;
  const ModelArgs a = parse_model_args(args);
  if (a.help) return std::cout << kQuantizeUsage, 0;
  if (a.weights != "q8" && a.weights != "q4") fail("dsvl quantize", "--weights is '", a.weights, "', expected q8 or q4");
  if (a.vision_weights != "auto" && a.vision_weights != "q8" && a.vision_weights != "q4")
    fail("dsvl quantize", "--vision-weights is '", a.vision_weights, "', expected q8 or q4");
  if (a.out.empty()) fail("dsvl quantize", "--out DIR is required");
  const fs::path out = a.out;
  std::error_code ec;
  if (fs::equivalent(out, a.model, ec)) fail("dsvl quantize", "--out is the model directory itself: ", a.out);
  model_family(a.model);  // fails unless --model is a model directory
  if (const auto q = stored_quantization(io::Checkpoint::open(a.model)); !q.empty())
    fail(a.model, "is already quantized (", q, "); quantize the original model");
  const auto t0 = Clock::now();
  fs::create_directories(out);
  with_loaded_model(a, [&](auto& model, const auto&) {
    write_weights(model, a, out / "model.safetensors");
    return 0;
  });
  for (const auto& e : fs::directory_iterator(a.model)) {
    const fs::path name = e.path().filename();
    if (!e.is_regular_file() || name.extension() == ".safetensors" || name == "model.safetensors.index.json") continue;
    fs::copy_file(e.path(), out / name, fs::copy_options::overwrite_existing);
  }
  std::cerr << "wrote " << (out / "model.safetensors").string() << " (" << std::fixed << std::setprecision(2)
            << fs::file_size(out / "model.safetensors") / 1e9 << " GB, " << a.weights
            << (a.vision_weights == "auto" ? "" : ", vision " + a.vision_weights) << ") in "
            << std::setprecision(1) << seconds_since(t0) << " s\n";
  return 0;
}

// Writes every weight of `model`'s declaration, random, in the storage type of `dtype`.
template <template <class, class> class Model, class Config>
void write_random_weights(const Config& c, const std::string& dtype, std::uint64_t seed, const std::filesystem::path& file) {
  io::SafeTensorsWriter w;
  const auto write = [&](auto policy) {
    Model<decltype(policy), decltype(policy)> model(c);
    nn::RandomWeightSaver saver(w, seed);
    model.visit(saver);
    w.write(file);
  };
  if (dtype == "bf16") write(policies::ScalarBF16{});
  else if (dtype == "f32") write(policies::ScalarF32{});
  else fail("dsvl random-model", "--dtype is '", dtype, "', expected bf16 or f32");
}

inline int random_model(std::span<char*> args) {
  namespace fs = std::filesystem;
  const ModelArgs a = parse_model_args(args);
  if (a.help) return std::cout << kRandomModelUsage, 0;
  if (a.out.empty()) fail("dsvl random-model", "--out DIR is required");
  fs::create_directories(a.out);
  const fs::path out = a.out;
  const std::map<std::string, models::DeepSeekVL2Config> vl2 = {
      {"vl2-tiny", models::kDeepSeekVL2Tiny}, {"vl2-small", models::kDeepSeekVL2Small}, {"vl2-base", models::kDeepSeekVL2Base}};
  if (const auto it = vl2.find(a.preset); it != vl2.end()) {
    models::DeepSeekVL2Config c = it->second;
    if (a.routed_experts > 0) c.language.n_routed_experts = a.routed_experts;
    const vision::CandidateResolutions candidates(vision::kCandidateResolutionsVL2);
    std::ofstream(out / "config.json") << models::to_config_json(c, candidates).dump(2) << "\n";
    nlohmann::json pj = models::to_config_json(c, candidates)["candidate_resolutions"];
    pj = {{"processor_class", "DeepseekVLV2Processor"}, {"candidate_resolutions", pj},
          {"patch_size", c.vision.patch_size},          {"downsample_ratio", c.projector.downsample_ratio},
          {"image_mean", {0.5, 0.5, 0.5}},              {"image_std", {0.5, 0.5, 0.5}},
          {"normalize", true},                          {"image_token", "<image>"},
          {"sft_format", "deepseek"}};
    std::ofstream(out / "processor_config.json") << pj.dump(2) << "\n";
    write_random_weights<DeepSeekVL2Model>(c, a.dtype, a.seed, out / "model.safetensors");
  } else {
    if (a.routed_experts > 0) fail("dsvl random-model", "--routed-experts is for the DeepSeek-VL2 presets");
    const models::DeepSeekVLConfig c = a.preset == "1.3b" ? models::kDeepSeekVL_1_3B
                                       : a.preset == "7b" ? models::kDeepSeekVL_7B
                                                          : (fail("dsvl random-model", "--preset is '", a.preset,
                                                                  "', expected 1.3b, 7b, vl2-tiny, vl2-small or vl2-base"),
                                                             models::kDeepSeekVL_1_3B);
    std::ofstream(out / "config.json") << models::to_config_json(c).dump(2) << "\n";
    const auto proc = c.hybrid() ? vision::kDeepSeekVL7BImageProcessor : vision::kDeepSeekVL1_3BImageProcessor;
    nlohmann::json pj = {{"image_processor_type", "VLMImageProcessor"}, {"image_size", proc.image_size},
                         {"min_size", proc.min_size},  {"image_mean", proc.image_mean},
                         {"image_std", proc.image_std}, {"rescale_factor", proc.rescale_factor},
                         {"do_normalize", proc.do_normalize}};
    std::ofstream(out / "preprocessor_config.json") << pj.dump(2) << "\n";
    write_random_weights<DeepSeekVLModel>(c, a.dtype, a.seed, out / "model.safetensors");
  }
  if (!a.tokenizer.empty()) fs::copy_file(a.tokenizer, out / "tokenizer.json", fs::copy_options::overwrite_existing);
  std::cerr << "wrote " << (out / "model.safetensors").string() << " (" << fs::file_size(out / "model.safetensors") / 1e9
            << " GB)\n";
  return 0;
}

}  // namespace dsvl::tool
