// `dsvl run`, `dsvl forward`, `dsvl inspect` and `dsvl random-model`: DeepSeek-VL (v1) model
// directories on the command line.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
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
    "                [--top-p P] [--top-k K] [--repetition-penalty R] [--seed S] [--weights auto|f32|bf16]\n"
    "                [--raw] [--ignore-eos]\n"
    "  Answers TEXT about the images with a DeepSeek-VL model directory (config.json, safetensors,\n"
    "  tokenizer.json, preprocessor_config.json), formatted as the official chat processor does, and\n"
    "  streams the answer to stdout; load, image-encode, prefill and decode figures go to stderr.\n"
    "  Each image needs an <image_placeholder> in TEXT; when TEXT has none, one per image is put first.\n"
    "  Images: PNG or JPEG. Sampling: greedy unless --temperature > 0 (default max-new-tokens 512).\n"
    "  --weights: how matrices are held in memory (auto: as the checkpoint stores them).\n"
    "  --raw: TEXT is the whole prompt, as in dsvl forward (no chat template).\n"
    "  --ignore-eos: generate max-new-tokens tokens whatever they are (for benchmarks).\n";

inline constexpr const char* kForwardUsage =
    "usage: dsvl forward --model DIR [--image PATH]... --prompt RAW --out FILE.safetensors [--weights ...]\n"
    "  One forward pass over RAW as written (BOS first, each <image_placeholder> expanded to the\n"
    "  image's tokens, no chat template), saving input_ids I64 [T], pixel_values F32 [n, 3, S, S] (the\n"
    "  vision tower's input), image_embeds F32 [n * tokens, D] (after the aligner) and logits F32 [T, V].\n";

inline constexpr const char* kInspectUsage =
    "usage: dsvl inspect --model DIR\n"
    "  Prints the architecture, the parameter count, the dtypes of the checkpoint and every tensor that\n"
    "  is missing, unexpected or of the wrong shape.\n";

inline constexpr const char* kRandomModelUsage =
    "usage: dsvl random-model --preset 1.3b|7b --out DIR [--dtype bf16|f32] [--tokenizer FILE] [--seed S]\n"
    "  Writes a model directory with random weights in the exact shapes of deepseek-vl-1.3b-chat or\n"
    "  deepseek-vl-7b-chat (config.json, model.safetensors, preprocessor_config.json, and tokenizer.json\n"
    "  copied from FILE), for benchmarks. Needs memory for one tensor at a time.\n";

struct ModelArgs {
  std::string model, prompt, out, weights = "auto", preset, dtype = "bf16", tokenizer;
  std::vector<std::string> images;
  std::int64_t max_new_tokens = 512, top_k = 0;
  float temperature = 0.0f, top_p = 1.0f, repetition_penalty = 1.0f;
  std::uint64_t seed = 0;
  bool help = false, raw = false, ignore_eos = false;
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
    else if (arg == "--preset") a.preset = value();
    else if (arg == "--dtype") a.dtype = value();
    else if (arg == "--tokenizer") a.tokenizer = value();
    else if (arg == "--max-new-tokens") number(a.max_new_tokens);
    else if (arg == "--top-k") number(a.top_k);
    else if (arg == "--temperature") number(a.temperature);
    else if (arg == "--top-p") number(a.top_p);
    else if (arg == "--repetition-penalty") number(a.repetition_penalty);
    else if (arg == "--seed") number(a.seed);
    else if (arg == "--raw") a.raw = true;
    else if (arg == "--ignore-eos") a.ignore_eos = true;
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
  const char* probe = "language_model.model.embed_tokens.weight";
  return ckpt.contains(probe) ? ckpt.info(probe).dtype : DType::f32;
}

// Calls f(P{}) with the kernel policy for the requested weight storage.
template <class F>
int with_policy(const std::string& weights, const io::Checkpoint& ckpt, F&& f) {
  const std::string w = weights == "auto" ? (stored_dtype(ckpt) == DType::bf16 ? "bf16" : "f32") : weights;
  if (w == "f32") return f(policies::HwyF32{});
  if (w == "bf16") return f(policies::HwyBF16{});
  fail("dsvl", "--weights is '", weights, "', expected auto, f32 or bf16");
}

struct Loaded {
  models::DeepSeekVLConfig config;
  std::shared_ptr<const io::Checkpoint> ckpt;
  io::Tokenizer tokenizer;
  vision::VLMImageProcessorConfig processor;
};

inline Loaded open_model_dir(const std::filesystem::path& dir) {
  if (dir.empty()) fail("dsvl", "--model DIR is required");
  auto config = models::read_deepseek_vl_config(dir);
  auto ckpt = std::make_shared<const io::Checkpoint>(io::Checkpoint::open(dir));
  prefetch(*ckpt);
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

inline int run_model(std::span<char*> args) {
  const ModelArgs a = parse_model_args(args);
  if (a.help) return std::cout << kRunUsage, 0;
  if (a.prompt.empty()) fail("dsvl run", "--prompt TEXT is required");
  const auto t_load = Clock::now();
  const Loaded m = open_model_dir(a.model);
  return with_policy(a.weights, *m.ckpt, [&](auto policy) {
    using P = decltype(policy);
    models::DeepSeekVL<P> model(m.config);
    model.load(m.ckpt);
    const double load_s = seconds_since(t_load);

    const auto K = static_cast<std::size_t>(model.num_image_tokens());
    const std::string text = with_image_tags(a.prompt, a.images.size());
    const auto prompt =
        a.raw ? language::deepseek_vl::encode_raw_prompt(m.tokenizer, text, a.images.size(), K)
              : language::deepseek_vl::encode_prompt(m.tokenizer, language::Conversation{}.user(text).assistant(),
                                                     a.images.size(), K);
    const auto t_image = Clock::now();
    const auto pixels = read_pixels(a.images, m.processor, model.image_size());
    const auto embeds = model.encode_images(View<const float, 4>(pixels.view()));
    const double image_s = seconds_since(t_image);

    const auto x = model.embed(prompt.input_ids, prompt.image_token_id, View<const float, 2>(embeds.view()));
    const auto& lm = model.language_model();
    const std::int64_t T = x.shape(0);
    const std::int64_t room = std::min(T + a.max_new_tokens, lm.config().max_position_embeddings);
    if (room <= T) fail("dsvl run", "the prompt has ", T, " tokens, max_position_embeddings is ", lm.config().max_position_embeddings);
    auto cache = lm.make_cache(room);
    std::vector<std::int32_t> history = prompt.input_ids;
    language::Sampler sampler(language::SamplingConfig{a.temperature, a.top_k, a.top_p, a.repetition_penalty, a.seed});
    io::Detokenizer detok(m.tokenizer, /*skip_special_tokens=*/true);
    const auto t_prefill = Clock::now();
    Clock::time_point t_first{};
    std::int64_t generated = 0, textless = 0;  // ids past the tokenizer's vocabulary have no text
    const auto g = language::generate(
        lm, View<const float, 2>(x.view()), cache, history,
        language::GenerationOptions{a.max_new_tokens, a.ignore_eos ? std::vector<std::int32_t>{}
                                                                   : language::deepseek_vl::stop_token_ids(m.tokenizer)},
        sampler,
        [&](std::int32_t id) {
          if (generated++ == 0) t_first = Clock::now();
          if (!m.tokenizer.id_to_token(id)) ++textless;
          else std::cout << detok.push(id) << std::flush;
          return true;
        });
    std::cout << detok.finish() << "\n";
    if (textless > 0)
      std::fprintf(stderr, "note: %lld generated ids are past the tokenizer's vocabulary and have no text\n",
                   static_cast<long long>(textless));
    const double prefill_s = std::chrono::duration<double>(t_first - t_prefill).count();
    const double decode_s = seconds_since(t_first);
    std::fprintf(stderr,
                 "load %.2f s | image encode %.0f ms (%zu image%s) | prefill %lld tokens in %.2f s (%.1f tokens/s) | "
                 "decode %lld tokens in %.2f s (%.2f tokens/s)\n",
                 load_s, image_s * 1e3, a.images.size(), a.images.size() == 1 ? "" : "s", static_cast<long long>(T),
                 prefill_s, static_cast<double>(T) / prefill_s, static_cast<long long>(g.tokens.size() - 1), decode_s,
                 g.tokens.size() > 1 ? static_cast<double>(g.tokens.size() - 1) / decode_s : 0.0);
    return 0;
  });
}

inline int forward_model(std::span<char*> args) {
  const ModelArgs a = parse_model_args(args);
  if (a.help) return std::cout << kForwardUsage, 0;
  if (a.out.empty()) fail("dsvl forward", "--out FILE.safetensors is required");
  const Loaded m = open_model_dir(a.model);
  return with_policy(a.weights, *m.ckpt, [&](auto policy) {
    using P = decltype(policy);
    models::DeepSeekVL<P> model(m.config);
    model.load(m.ckpt);
    const auto prompt = language::deepseek_vl::encode_raw_prompt(m.tokenizer, a.prompt, a.images.size(),
                                                                 static_cast<std::size_t>(model.num_image_tokens()));
    const auto pixels = read_pixels(a.images, m.processor, model.image_size());
    const auto embeds = model.encode_images(View<const float, 4>(pixels.view()));
    const auto x = model.embed(prompt.input_ids, prompt.image_token_id, View<const float, 2>(embeds.view()));
    const auto& lm = model.language_model();
    auto cache = lm.make_cache(std::max<std::int64_t>(x.shape(0), 1));
    const auto logits = lm.forward(View<const float, 2>(x.view()), cache);

    io::SafeTensorsWriter w;
    Tensor<std::int64_t, 1> ids({static_cast<std::int64_t>(prompt.input_ids.size())});
    for (std::size_t i = 0; i < prompt.input_ids.size(); ++i) ids.data()[i] = prompt.input_ids[i];
    w.add("input_ids", ids);
    w.add("pixel_values", pixels);
    w.add("image_embeds", embeds);
    w.add("logits", logits);
    w.write(a.out);
    std::cerr << "wrote " << a.out << ": " << ids.size() << " tokens, " << a.images.size() << " image(s)\n";
    return 0;
  });
}

inline int inspect_model(std::span<char*> args) {
  const ModelArgs a = parse_model_args(args);
  if (a.help) return std::cout << kInspectUsage, 0;
  if (a.model.empty()) fail("dsvl inspect", "--model DIR is required");
  const auto c = models::read_deepseek_vl_config(a.model);
  const auto ckpt = io::Checkpoint::open(a.model);
  std::cout << "model: " << a.model << "\n"
            << "architecture: DeepSeek-VL (v1), " << (c.hybrid() ? "HybridVisionTower (SAM + SigLIP)" : "CLIPVisionTower (SigLIP)")
            << ", " << (c == models::kDeepSeekVL_1_3B ? "equal to preset kDeepSeekVL_1_3B"
                        : c == models::kDeepSeekVL_7B ? "equal to preset kDeepSeekVL_7B"
                                                      : "not a released size")
            << "\n  images: " << c.image_size() << "x" << c.image_size() << " px, " << c.num_image_tokens()
            << " tokens each\n  SigLIP: " << vision::to_string(c.siglip) << "\n";
  if (c.hybrid()) std::cout << "  SAM: " << vision::to_string(c.sam) << "\n";
  std::cout << "  aligner: " << models::detail::aligner_string(c.aligner) << "\n  language: " << c.language << "\n";

  models::DeepSeekVL<policies::ScalarBF16> model(c);
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
  model.visit(check);
  try {
    check.finish();
    std::cout << "weights: every declared tensor present with its shape, none unexpected\n";
    return 0;
  } catch (const Error& e) {
    std::cout << "weights: " << e.what() << "\n";
    return 1;
  }
}

inline int random_model(std::span<char*> args) {
  namespace fs = std::filesystem;
  const ModelArgs a = parse_model_args(args);
  if (a.help) return std::cout << kRandomModelUsage, 0;
  if (a.out.empty()) fail("dsvl random-model", "--out DIR is required");
  const models::DeepSeekVLConfig c = a.preset == "1.3b" ? models::kDeepSeekVL_1_3B
                                     : a.preset == "7b" ? models::kDeepSeekVL_7B
                                                        : (fail("dsvl random-model", "--preset is '", a.preset,
                                                                "', expected 1.3b or 7b"),
                                                           models::kDeepSeekVL_1_3B);
  fs::create_directories(a.out);
  const fs::path out = a.out;
  std::ofstream(out / "config.json") << models::to_config_json(c).dump(2) << "\n";
  const auto proc = c.hybrid() ? vision::kDeepSeekVL7BImageProcessor : vision::kDeepSeekVL1_3BImageProcessor;
  nlohmann::json pj = {{"image_processor_type", "VLMImageProcessor"}, {"image_size", proc.image_size},
                       {"min_size", proc.min_size},  {"image_mean", proc.image_mean},
                       {"image_std", proc.image_std}, {"rescale_factor", proc.rescale_factor},
                       {"do_normalize", proc.do_normalize}};
  std::ofstream(out / "preprocessor_config.json") << pj.dump(2) << "\n";
  if (!a.tokenizer.empty()) fs::copy_file(a.tokenizer, out / "tokenizer.json", fs::copy_options::overwrite_existing);

  io::SafeTensorsWriter w;
  const auto write = [&](auto policy) {
    models::DeepSeekVL<decltype(policy)> model(c);
    nn::RandomWeightSaver saver(w, a.seed);
    model.visit(saver);
    w.write(out / "model.safetensors");
  };
  if (a.dtype == "bf16") write(policies::ScalarBF16{});
  else if (a.dtype == "f32") write(policies::ScalarF32{});
  else fail("dsvl random-model", "--dtype is '", a.dtype, "', expected bf16 or f32");
  std::cerr << "wrote " << (out / "model.safetensors").string() << " (" << fs::file_size(out / "model.safetensors") / 1e9
            << " GB)\n";
  return 0;
}

}  // namespace dsvl::tool
