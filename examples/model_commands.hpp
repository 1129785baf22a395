// `dsvl run`, `dsvl forward`, `dsvl inspect`, `dsvl quantize` and `dsvl random-model`: model
// directories of any generation in the registry, through the model shell (dsvl/models/model.hpp).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "dsvl/io/detokenizer.hpp"
#include "dsvl/io/image.hpp"
#include "dsvl/io/safetensors.hpp"
#include "dsvl/language/grounding.hpp"
#include "dsvl/models/model.hpp"
#include "dsvl/vision/draw.hpp"

namespace dsvl::tool {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The shell's options from the flags; the checkpoint's pages are read at open (with a progress
// line when stderr is a terminal) so that load time is paid there, not in the first forward pass.
inline models::ModelOptions model_options(const Options& o) {
  models::ModelOptions m;
  m.weights = o.weights;
  m.vision_weights = o.vision_weights;
  m.prefetch = true;
  if (::isatty(STDERR_FILENO) != 0)
    m.on_prefetch = [shown = -1](std::size_t done, std::size_t total) mutable {
      const int pct = total ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)) : 100;
      if (pct != shown) std::fprintf(stderr, "\rloading: %3d%% of %.2f GB", pct, static_cast<double>(total) / 1e9);
      if (done == total) std::fprintf(stderr, "\r\033[K");
      shown = pct;
    };
  return m;
}

inline models::Model open_model(const Options& o, const char* command) {
  if (o.model.empty()) fail(std::string("dsvl ") + command, "--model DIR is required");
  return models::open_model(o.model, model_options(o));
}

// The request of --prompt and --image: one user turn (or, with --raw, the whole prompt).
inline models::Request request(const Options& o, bool raw, const std::vector<Tensor<std::uint8_t, 3>>& images) {
  models::Request r;
  if (raw) r.raw_prompt = o.prompt;
  else r.conversation.user(o.prompt);
  for (const auto& image : images) r.images.push_back(models::RequestImage::from_rgb(image.clone()));
  r.grounding = o.grounding;
  return r;
}

// Refuses an output path (`flag`'s value) that is one of the run's inputs: the model's files, the images.
inline void refuse_input(const Options& o, const std::string& out, std::string_view flag) {
  std::vector<std::filesystem::path> inputs = o.model.empty() ? std::vector<std::filesystem::path>{} : models::model_files(o.model);
  inputs.insert(inputs.end(), o.images.begin(), o.images.end());
  io::refuse_input(out, inputs, flag);
}

// The ids of tokens named as tokenizer.json spells them (`flag`'s values).
inline std::vector<std::int32_t> token_ids(const io::Tokenizer& tok, const std::vector<std::string>& tokens,
                                           std::string_view flag) {
  std::vector<std::int32_t> ids;
  for (const auto& t : tokens) {
    const auto id = tok.token_to_id(t);
    if (!id) fail("dsvl run", flag, " '", t, "' is not a token of the model's tokenizer");
    ids.push_back(*id);
  }
  return ids;
}

inline std::vector<Tensor<std::uint8_t, 3>> read_images(const Options& o) {
  std::vector<Tensor<std::uint8_t, 3>> images;
  for (const auto& path : o.images) images.push_back(io::read_image(path));
  return images;
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

inline int run(const Options& o) {
  if (o.prompt.empty()) fail("dsvl run", "--prompt TEXT is required");
  if (!o.draw_boxes.empty() && !o.grounding) fail("dsvl run", "--draw-boxes needs --grounding");
  if (o.grounding && o.images.empty()) fail("dsvl run", "--grounding needs an --image");
  if (!o.draw_boxes.empty()) refuse_input(o, o.draw_boxes, "--draw-boxes");
  const auto t_load = Clock::now();
  const models::Model model = open_model(o, "run");
  const double load_s = seconds_since(t_load);
  const auto exempt = token_ids(model.tokenizer(), o.ngram_exempt, "--ngram-exempt");
  const auto images = read_images(o);

  const auto t_image = Clock::now();
  models::Prompt p;
  p.inputs = model.process(request(o, o.raw, images));
  p.image_embeds = model.encode_images(p.inputs);
  p.inputs_embeds = model.embed(p.inputs, std::as_const(p.image_embeds).view());
  const double image_s = seconds_since(t_image);

  // The answer streams to stdout (special tokens shown only with --grounding, stop ids never).
  const io::Tokenizer& tok = model.tokenizer();
  const auto stop = model.stop_ids();
  io::Detokenizer detok(tok, /*skip_special_tokens=*/!o.grounding);
  const auto t_prefill = Clock::now();
  Clock::time_point t_first{};
  std::int64_t generated = 0, textless = 0;  // ids past the tokenizer's vocabulary have no text
  std::vector<std::int32_t> answer;
  language::LoopDetection loop = o.loop;
  loop.enabled = loop.enabled && !o.ignore_eos;
  const models::GenerateOptions options{
      o.max_new_tokens > 0 ? o.max_new_tokens : 512,
      {o.temperature, o.top_k, o.top_p, o.repetition_penalty, o.seed, {o.no_repeat_ngram, o.ngram_window, exempt}},
      o.kv_cache, !o.ignore_eos, loop};
  const auto g = model.generate(p, options, [&](std::int32_t id) {
    if (generated++ == 0) t_first = Clock::now();
    if (!o.ignore_eos && std::find(stop.begin(), stop.end(), id) != stop.end()) return true;
    if (!tok.id_to_token(id)) ++textless;
    else {
      answer.push_back(id);
      std::cout << detok.push(id) << std::flush;
    }
    return true;
  });
  std::cout << detok.finish() << std::endl;  // before the figures on stderr, also when stdout is a pipe
  if (g.reason == language::StopReason::loop)
    std::fprintf(stderr, "stopped: the output repeats a %lld-token span over its last %lld tokens (--no-loop-stop "
                         "lets it run on)\n",
                 static_cast<long long>(g.loop.period), static_cast<long long>(g.loop.tokens));
  if (textless > 0)
    std::fprintf(stderr, "note: %lld generated ids are past the tokenizer's vocabulary and have no text\n",
                 static_cast<long long>(textless));
  const std::int64_t T = p.inputs_embeds.shape(0);
  const double prefill_s = std::chrono::duration<double>(t_first - t_prefill).count();
  const double decode_s = seconds_since(t_first);
  const std::size_t n = o.images.size();
  std::fprintf(stderr,
               "load %.2f s | image encode %.0f ms (%zu image%s) | prefill %lld tokens in %.2f s (%.1f tokens/s) | "
               "decode %lld tokens in %.2f s (%.2f tokens/s) | KV cache %.1f KiB per token\n",
               load_s, image_s * 1e3, n, n == 1 ? "" : "s", static_cast<long long>(T), prefill_s,
               static_cast<double>(T) / prefill_s, static_cast<long long>(g.tokens.size() - 1), decode_s,
               g.tokens.size() > 1 ? static_cast<double>(g.tokens.size() - 1) / decode_s : 0.0,
               static_cast<double>(model.make_cache(1, o.kv_cache).bytes_per_token()) / 1024.0);
  if (o.grounding) report_grounding(tok.decode(answer), images.front(), o.draw_boxes);
  return 0;
}

inline int forward(const Options& o) {
  if (o.out.empty()) fail("dsvl forward", "--out FILE.safetensors is required");
  refuse_input(o, o.out, "--out");
  const models::Model model = open_model(o, "forward");
  const models::Prompt p = model.encode(request(o, /*raw=*/true, read_images(o)));
  const std::int64_t T = p.inputs_embeds.shape(0);
  if (T > model.max_positions())
    fail("dsvl forward", "the prompt has ", T, " tokens, max_position_embeddings is ", model.max_positions());
  auto cache = model.make_cache(std::max<std::int64_t>(T, 1));
  const auto logits = model.language_model().forward(std::as_const(p.inputs_embeds).view(), cache);
  io::SafeTensorsWriter w;
  Tensor<std::int64_t, 1> ids({T});
  std::copy(p.inputs.input_ids.begin(), p.inputs.input_ids.end(), ids.data());
  w.add("input_ids", ids);
  w.add("pixel_values", p.inputs.pixel_values);
  w.add("image_embeds", p.image_embeds);
  w.add("logits", logits);
  w.write(o.out);
  std::cerr << "wrote " << o.out << ": " << T << " tokens, " << o.images.size() << " image(s)\n";
  return 0;
}

inline int inspect(const Options& o) {
  if (o.model.empty()) fail("dsvl inspect", "--model DIR is required");
  const models::ModelSummary s = models::inspect_model(o.model);
  const auto ckpt = io::Checkpoint::open(o.model);
  std::map<std::string, std::pair<std::size_t, std::size_t>> dtypes;  // dtype -> (tensors, bytes)
  for (const auto name : ckpt.names()) {
    auto& d = dtypes[std::string(dtype_name(ckpt.info(name).dtype))];
    ++d.first;
    d.second += ckpt.info(name).bytes.size();
  }
  std::cout << "model: " << o.model << "\narchitecture: " << s.architecture << "preset: "
            << (s.preset.empty() ? "none (not a released size)" : s.preset) << "\nparameters: " << s.parameters << " ("
            << std::fixed << std::setprecision(2) << static_cast<double>(s.parameters) / 1e9
            << " B) declared\ncheckpoint: " << ckpt.size() << " tensors in " << ckpt.files().size() << " file(s):";
  for (const auto& [name, d] : dtypes) std::cout << " " << name << " " << d.first << " (" << d.second / 1e9 << " GB)";
  std::cout << "\n";
  if (s.weight_problems.empty()) {
    std::cout << "weights: every declared tensor present with its shape, none unexpected\n";
    return 0;
  }
  std::cout << "weights: " << s.weight_problems << "\n";
  return 1;
}

inline int quantize(const Options& o) {
  namespace fs = std::filesystem;
  if (!models::is_quantized(o.weights)) fail("dsvl quantize", "--weights is '", models::weight_format_name(o.weights), "', expected q8 or q4");
  if (o.out.empty()) fail("dsvl quantize", "--out DIR is required");
  if (o.model.empty()) fail("dsvl quantize", "--model DIR is required");
  const fs::path out = o.out;
  refuse_input(o, o.out, "--out");
  if (const auto q = models::stored_quantization(io::Checkpoint::open(o.model)))
    fail(o.model, "is already quantized (", models::weight_format_name(*q), "); quantize the original model");
  const auto t0 = Clock::now();
  const models::Model model = open_model(o, "quantize");
  model.save(out);
  std::cerr << "wrote " << (out / "model.safetensors").string() << " (" << std::fixed << std::setprecision(2)
            << static_cast<double>(fs::file_size(out / "model.safetensors")) / 1e9 << " GB, "
            << models::weight_format_name(model.weights())
            << (models::is_quantized(model.vision_weights())
                    ? ", vision " + std::string(models::weight_format_name(model.vision_weights()))
                    : "")
            << ") in " << std::setprecision(1) << seconds_since(t0) << " s\n";
  return 0;
}

inline int random_model(const Options& o) {
  namespace fs = std::filesystem;
  if (o.out.empty()) fail("dsvl random-model", "--out DIR is required");
  models::write_random_model(o.preset, o.out, {o.dtype, o.seed, o.routed_experts, o.tokenizer});
  std::cerr << "wrote " << (fs::path(o.out) / "model.safetensors").string() << " ("
            << static_cast<double>(fs::file_size(fs::path(o.out) / "model.safetensors")) / 1e9 << " GB)\n";
  return 0;
}

inline std::string preset_list() {
  std::string s;
  for (const auto& n : models::preset_names()) s += (s.empty() ? "" : "|") + n;
  return s;
}

inline const std::vector<Command>& model_commands() {
  static const std::string random_description =
      "Writes a model directory with random weights in the exact shapes of a released size (--preset " +
      preset_list() +
      "): its config files, model.safetensors, and tokenizer.json copied from --tokenizer, for benchmarks. Needs "
      "memory for one tensor at a time.";
  static const std::vector<Command> commands = {
      {"run", "answer a prompt about images with a model directory",
       "Answers --prompt about the images with a model directory, formatted as the official chat processor does, "
       "and streams the answer to stdout; load, image-encode, prefill and decode figures go to stderr. Sampling: "
       "greedy unless --temperature > 0. An answer that loops stops, with a line on stderr.",
       {"--model", "--image", "--prompt", "--max-new-tokens", "--temperature", "--top-p", "--top-k",
        "--repetition-penalty", "--no-repeat-ngram", "--ngram-window", "--ngram-exempt", "--seed", "--loop-periods",
        "--loop-min-repeats", "--loop-min-tokens", "--no-loop-stop", "--weights", "--vision-weights", "--kv-cache",
        "--raw", "--ignore-eos", "--grounding", "--draw-boxes"},
       run},
      {"forward", "one forward pass, saving its tensors",
       "One forward pass over --prompt as written (BOS first, each image tag expanded to the image's tokens, no chat "
       "template), saving to --out (safetensors) input_ids I64 [T], pixel_values F32 (every image's tiles), "
       "image_embeds F32 [image tokens, D] and logits F32 [T, V].",
       {"--model", "--image", "--prompt", "--out", "--weights", "--vision-weights"},
       forward},
      {"inspect", "a model directory's architecture, parameters and weight problems",
       "Prints the architecture, the released size it equals, the parameter count, the dtypes of the checkpoint and "
       "every tensor that is missing, unexpected or of the wrong shape.",
       {"--model"},
       inspect},
      {"quantize", "store a model's matrices quantized, q8 or q4",
       "Writes to --out a copy of a model directory whose language-model matrices (and with --vision-weights the "
       "vision side's) are stored as --weights q8 or q4 holds them (docs/quantization.md), so that loading reads "
       "them in place; every other file is copied. The folder appears complete or not at all; an existing --out is "
       "replaced only when dsvl wrote it. dsvl run recognises the copy with --weights auto.",
       {"--model", "--weights", "--vision-weights", "--out"},
       quantize},
      {"random-model", "write a random-weight model of a released size", random_description,
       {"--preset", "--out", "--dtype", "--tokenizer", "--seed", "--routed-experts"},
       random_model},
  };
  return commands;
}

}  // namespace dsvl::tool
