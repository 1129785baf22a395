// The dsvl tool's flags and commands, each declared once: a flag's name, value, help and parser in
// kFlags; a command's name, summary, description and flags in its Command. Usage texts and the
// parser are made from these tables, so a command shows and accepts only its own flags.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <limits>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/language/loop_detection.hpp"
#include "dsvl/models/weight_format.hpp"

namespace dsvl::tool {

// Every flag's value; each command reads the ones it declares.
struct Options {
  std::string model, prompt, out, preset, tokenizer, draw_boxes, jsonl, crop_figures, mode;
  std::string format = "md";
  std::vector<std::string> images, ngram_exempt;
  std::vector<std::string> positional;  // the arguments that are not flags (Command::positional)
  models::WeightFormat weights = models::WeightFormat::automatic;
  models::WeightFormat vision_weights = models::WeightFormat::automatic;
  DType kv_cache = DType::f32, dtype = DType::bf16;
  // max_new_tokens 0: the command's default.
  std::int64_t max_new_tokens = 0, top_k = 0, routed_experts = 0, no_repeat_ngram = 0, ngram_window = 100;
  language::LoopDetection loop{};
  float temperature = 0.0f, top_p = 1.0f, repetition_penalty = 1.0f;
  std::uint64_t seed = 0;
  bool help = false, raw = false, ignore_eos = false, grounding = false, add_special = false, skip_special = false;
};

namespace detail {

[[noreturn]] inline void bad_value(std::string_view flag, std::string_view value, std::string_view expected) {
  fail("dsvl", "option ", flag, ": '", value, "' is not ", expected);
}

template <class T>
T number(std::string_view flag, std::string_view value, T lo, T hi) {
  std::istringstream is{std::string(value)};
  T v{};
  if (!(is >> v) || !is.eof()) bad_value(flag, value, "a number");
  if (v < lo || v > hi) {
    std::ostringstream range;
    range << "in [" << lo << ", " << hi << "]";
    bad_value(flag, value, range.str());
  }
  return v;
}

inline models::WeightFormat weight_format(std::string_view flag, std::string_view value, bool floats) {
  const auto f = models::parse_weight_format(value);
  if (!f || (!floats && (*f == models::WeightFormat::f32 || *f == models::WeightFormat::bf16)))
    fail("dsvl", flag, " is '", value, "', expected ", floats ? "auto, f32, bf16, q8 or q4" : "auto, q8 or q4");
  return *f;
}

// "MIN:MAX" with 1 <= MIN <= MAX <= hi.
inline std::pair<std::int64_t, std::int64_t> range(std::string_view flag, std::string_view value, std::int64_t hi) {
  const auto colon = value.find(':');
  std::istringstream a{std::string(value.substr(0, colon))}, b{std::string(value.substr(colon + 1))};
  std::int64_t lo = 0, up = 0;
  if (colon == std::string_view::npos || !(a >> lo) || !a.eof() || !(b >> up) || !b.eof() || lo < 1 || lo > up ||
      up > hi)
    bad_value(flag, value, "MIN:MAX with 1 <= MIN <= MAX <= " + std::to_string(hi));
  return {lo, up};
}

inline DType float_dtype(std::string_view flag, std::string_view value) {
  if (value == "f32") return DType::f32;
  if (value == "bf16") return DType::bf16;
  fail("dsvl", flag, " is '", value, "', expected f32 or bf16");
}

// `value` when it is one of `choices` ("a|b|c").
inline std::string choice(std::string_view flag, std::string_view value, std::string_view choices) {
  for (std::size_t at = 0; at <= choices.size();) {
    const std::size_t bar = std::min(choices.find('|', at), choices.size());
    if (choices.substr(at, bar - at) == value) return std::string(value);
    at = bar + 1;
  }
  fail("dsvl", flag, " is '", value, "', expected ", choices);
}

}  // namespace detail

struct Flag {
  std::string_view name;   // "--max-new-tokens"
  std::string_view value;  // what it takes ("N"), empty for a switch
  std::string_view help;
  std::function<void(Options&, std::string_view flag, std::string_view value)> set;
};

inline const std::vector<Flag>& flags() {
  using detail::number;
  constexpr auto i64_max = std::numeric_limits<std::int64_t>::max();
  static const std::vector<Flag> all = {
      {"--model", "DIR", "a model directory (config.json, safetensors, tokenizer.json, the processor's config)",
       [](Options& o, auto, auto v) { o.model = v; }},
      {"--image", "PATH", "an image (PNG or JPEG); repeat for more, in the order of their tags",
       [](Options& o, auto, auto v) { o.images.emplace_back(v); }},
      {"--prompt", "TEXT", "the question; each image needs its tag (<image_placeholder> for DeepSeek-VL, <image> for "
                           "DeepSeek-VL2), and when TEXT has none, one per image is put first",
       [](Options& o, auto, auto v) { o.prompt = v; }},
      {"--out", "PATH", "where to write the output", [](Options& o, auto, auto v) { o.out = v; }},
      {"--weights", "auto|f32|bf16|q8|q4",
       "the language model's matrices in memory: as stored (auto), or q8/q4 with a scale per 32 weights, quantized "
       "at load unless the directory was written by dsvl quantize (docs/quantization.md)",
       [](Options& o, auto f, auto v) { o.weights = detail::weight_format(f, v, true); }},
      {"--vision-weights", "auto|q8|q4",
       "the vision side's matrices: auto keeps them float (bf16 under --weights q8 or q4) unless stored quantized; "
       "q8 or q4 need --weights q8 or q4",
       [](Options& o, auto f, auto v) { o.vision_weights = detail::weight_format(f, v, false); }},
      {"--kv-cache", "f32|bf16", "the KV cache's elements (bf16 halves its memory and what each decode step reads)",
       [](Options& o, auto f, auto v) { o.kv_cache = detail::float_dtype(f, v); }},
      {"--max-new-tokens", "N", "generate at most N tokens (default: run 512, ocr 8192 as the official scripts)",
       [=](Options& o, auto f, auto v) { o.max_new_tokens = number<std::int64_t>(f, v, 1, i64_max); }},
      {"--temperature", "T", "sample at temperature T (default 0: greedy)",
       [](Options& o, auto f, auto v) { o.temperature = number<float>(f, v, 0.0f, 1e6f); }},
      {"--top-p", "P", "sample from the smallest set of tokens whose probability reaches P (default 1)",
       [](Options& o, auto f, auto v) { o.top_p = number<float>(f, v, 0.0f, 1.0f); }},
      {"--top-k", "K", "sample from the K most likely tokens (default 0: all)",
       [=](Options& o, auto f, auto v) { o.top_k = number<std::int64_t>(f, v, 0, i64_max); }},
      {"--repetition-penalty", "R", "divide the logits of tokens already seen by R (default 1)",
       [](Options& o, auto f, auto v) { o.repetition_penalty = number<float>(f, v, 1e-6f, 1e6f); }},
      {"--no-repeat-ngram", "N",
       "DeepSeek-OCR's no-repeat n-gram rule: never generate a token that would repeat an N-token sequence lying "
       "in the answer's last --ngram-window tokens (default 0: off; DeepSeek-OCR runs N 30, window 90, exempt <td> "
       "and </td>; N 1 bans nothing, as there)",
       [=](Options& o, auto f, auto v) { o.no_repeat_ngram = number<std::int64_t>(f, v, 0, i64_max); }},
      {"--ngram-window", "W", "the answer's last W tokens, where --no-repeat-ngram looks (default 100)",
       [=](Options& o, auto f, auto v) { o.ngram_window = number<std::int64_t>(f, v, 1, i64_max); }},
      {"--ngram-exempt", "TOKEN",
       "a token that --no-repeat-ngram never bans, as tokenizer.json spells it; repeat for more",
       [](Options& o, auto, auto v) { o.ngram_exempt.emplace_back(v); }},
      {"--loop-periods", "MIN:MAX",
       "stop an answer that loops: one span of MIN to MAX tokens said again and again (default 1:1024)",
       [](Options& o, auto f, auto v) {
         std::tie(o.loop.min_period, o.loop.max_period) = detail::range(f, v, 1 << 20);
       }},
      {"--loop-min-repeats", "R", "a loop has R copies of its span at least (default 3)",
       [](Options& o, auto f, auto v) { o.loop.min_repeats = number<std::int64_t>(f, v, 2, 1 << 30); }},
      {"--loop-min-tokens", "N", "a loop covers N tokens at least (default 2048)",
       [=](Options& o, auto f, auto v) { o.loop.min_tokens = number<std::int64_t>(f, v, 0, i64_max); }},
      {"--no-loop-stop", "", "let an answer that loops run on", [](Options& o, auto, auto) { o.loop.enabled = false; }},
      {"--seed", "S", "the random seed", [](Options& o, auto f, auto v) {
         o.seed = number<std::uint64_t>(f, v, 0, std::numeric_limits<std::uint64_t>::max());
       }},
      {"--raw", "", "TEXT is the whole prompt (no chat template)", [](Options& o, auto, auto) { o.raw = true; }},
      {"--ignore-eos", "", "generate max-new-tokens tokens whatever they are, loops too (for benchmarks)",
       [](Options& o, auto, auto) { o.ignore_eos = true; }},
      {"--grounding", "",
       "ask for a grounded answer (<|grounding|> before TEXT unless it has <|ref|> or <|grounding|>) and print each "
       "box of the answer with its label, in pixels of the first image",
       [](Options& o, auto, auto) { o.grounding = true; }},
      {"--draw-boxes", "OUT.png",
       "write the image with the answer's boxes and labels drawn (run: with --grounding, the first image; ocr: each "
       "page, OUT a folder for several pages)",
       [](Options& o, auto, auto v) { o.draw_boxes = v; }},
      {"--format", "md|json", "the output: Markdown (default) or JSON, one line per page (docs/ocr.md)",
       [](Options& o, auto f, auto v) { o.format = detail::choice(f, v, "md|json"); }},
      {"--crop-figures", "DIR",
       "write each figure box (label image) as DIR/N.png (DIR/P_N.png for page P, from 0, of several) and link it "
       "from the Markdown",
       [](Options& o, auto, auto v) { o.crop_figures = v; }},
      {"--mode", "tiny|small|base|large|gundam",
       "DeepSeek-OCR's image mode (image size and tiling; default: the model's); models without modes refuse it",
       [](Options& o, auto f, auto v) { o.mode = detail::choice(f, v, "tiny|small|base|large|gundam"); }},
      {"--preset", "NAME", "a released size", [](Options& o, auto, auto v) { o.preset = v; }},
      {"--dtype", "bf16|f32", "the weights' dtype in the file (default bf16)",
       [](Options& o, auto f, auto v) { o.dtype = detail::float_dtype(f, v); }},
      {"--tokenizer", "FILE", "a tokenizer.json", [](Options& o, auto, auto v) { o.tokenizer = v; }},
      {"--routed-experts", "N",
       "N routed experts per MoE layer instead of the preset's, every other size kept: a token still runs the same "
       "experts' work, so a model too big for memory can be measured",
       [=](Options& o, auto f, auto v) { o.routed_experts = number<std::int64_t>(f, v, 1, 1 << 16); }},
      {"--jsonl", "IN", "read JSON lines {\"text\": ...} from IN ('-' for stdin), write one line of ids for each",
       [](Options& o, auto, auto v) { o.jsonl = v; }},
      {"--add-special", "", "add BOS/EOS as the tokenizer says", [](Options& o, auto, auto) { o.add_special = true; }},
      {"--skip-special", "", "leave special tokens out of the text", [](Options& o, auto, auto) { o.skip_special = true; }},
  };
  return all;
}

inline const Flag& flag(std::string_view name) {
  const auto& all = flags();
  const auto it = std::find_if(all.begin(), all.end(), [&](const Flag& f) { return f.name == name; });
  if (it == all.end()) fail("dsvl", "no flag ", name, " is declared");  // a command names an undeclared flag
  return *it;
}

struct Command {
  std::string_view name;
  std::string_view summary;      // one line for `dsvl --help`
  std::string_view description;  // the paragraph of `dsvl <name> --help`
  std::vector<std::string_view> flags;
  int (*run)(const Options&);
  std::string_view positional = {};  // what the arguments that are not flags are ("PAGE..."); none when empty
};

// `text` in lines of at most `width` columns, every line after the first indented by `indent`.
inline std::string wrapped(std::string_view text, std::size_t indent, std::size_t width = 100) {
  std::string out, line;
  std::istringstream words{std::string(text)};
  for (std::string w; words >> w;) {
    if (!line.empty() && indent + line.size() + 1 + w.size() > width) {
      out += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + w;
  }
  return out + line;
}

inline void print_usage(std::ostream& os, const Command& c) {
  os << "usage: dsvl " << c.name << " [options]" << (c.positional.empty() ? "" : " ") << c.positional << "\n  "
     << wrapped(c.description, 2) << "\noptions:\n";
  std::size_t width = 0;
  for (const auto name : c.flags) width = std::max(width, name.size() + 1 + flag(name).value.size());
  for (const auto name : c.flags) {
    const Flag& f = flag(name);
    os << "  " << std::left << std::setw(static_cast<int>(width)) << (std::string(f.name) + " " + std::string(f.value))
       << "  " << wrapped(f.help, width + 4) << "\n";
  }
}

// The command's options from its arguments; a flag that is not the command's is an error. For a
// command with positional arguments, an argument that does not start with '-', and every argument
// after "--", is one.
inline Options parse_options(const Command& c, std::span<char*> args) {
  Options o;
  bool flags_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (!c.positional.empty() && (flags_done || !arg.starts_with('-'))) {
      o.positional.emplace_back(arg);
      continue;
    }
    if (!c.positional.empty() && arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (std::find(c.flags.begin(), c.flags.end(), arg) == c.flags.end())
      fail("dsvl " + std::string(c.name), "unknown option '", arg, "' (dsvl ", c.name, " --help lists its options)");
    const Flag& f = flag(arg);
    std::string_view value;
    if (!f.value.empty()) {
      if (i + 1 >= args.size()) fail("dsvl", "option ", arg, " needs a value");
      value = args[++i];
    }
    f.set(o, arg, value);
  }
  return o;
}

// Runs the command on its arguments (usage on --help).
inline int run_command(const Command& c, std::span<char*> args, std::ostream& out) {
  const Options o = parse_options(c, args);
  if (o.help) {
    print_usage(out, c);
    return 0;
  }
  return c.run(o);
}

}  // namespace dsvl::tool
