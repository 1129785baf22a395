// dsvl: the command-line tool.
//
//   dsvl run ...         a DeepSeek-VL model directory on images and a prompt (dsvl run --help)
//   dsvl forward ...     one forward pass, saving input ids, pixels, image embeddings and logits
//   dsvl inspect ...     a model directory's architecture, parameters, dtypes and weight problems
//   dsvl quantize ...    a copy of a model directory with its language model stored quantized
//   dsvl random-model .. a random-weight model directory of a released size, for benchmarks
//   dsvl info            what this build has: version, threads, instruction set, native kernels
//   dsvl tokenize ...    text to token ids with a tokenizer.json (dsvl tokenize --help)
//   dsvl detokenize ...  token ids to text
//   dsvl bench [...]     kernel benchmarks (dsvl bench --help)
#include <cstring>
#include <iostream>
#include <span>
#include <string>
#include <string_view>

#include <hwy/highway.h>

#include "dsvl/dsvl.hpp"
#include "tokenize_commands.hpp"
#if DSVL_WITH_IMAGE
#include "model_commands.hpp"
#endif
#ifdef DSVL_TOOL_WITH_BENCH
#include "driver.hpp"
#endif

namespace {

void usage(std::ostream& os) {
  os << "usage: dsvl <command> [options]\n\n"
        "commands:\n"
#if DSVL_WITH_IMAGE
        "  run           answer a prompt about images with a DeepSeek-VL model (dsvl run --help)\n"
        "  forward       one forward pass, saving its tensors (dsvl forward --help)\n"
        "  inspect       a model directory's architecture, parameters and weight problems\n"
        "  quantize      store a model's language model quantized, q8 or q4 (dsvl quantize --help)\n"
        "  random-model  write a random-weight model of a released size (dsvl random-model --help)\n"
#endif
        "  info          version, threads, instruction set and the native-kernel matrix\n"
        "  tokenize      text to token ids with a tokenizer.json (dsvl tokenize --help)\n"
        "  detokenize    token ids to text (dsvl detokenize --help)\n"
#ifdef DSVL_TOOL_WITH_BENCH
        "  bench         kernel benchmarks at the models' shapes (dsvl bench --help)\n"
#endif
        ;
}

int info() {
  std::cout << "dsvl 0.1.0\n"
            << "threads: " << dsvl::ThreadPool::global().size() << " (DSVL_NUM_THREADS overrides)\n"
            << "xsimd architecture: " << xsimd::default_arch::name() << "\n"
            << "Highway static target: " << hwy::TargetName(HWY_STATIC_TARGET) << "\n\n";
  dsvl::kernels::print_native_matrix<dsvl::scalar_tag, dsvl::xsimd_tag<>, dsvl::hwy_tag>(std::cout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  const std::string_view cmd = argv[1];
  try {
    if (cmd == "info") return info();
    const std::span<char*> rest(argv + 2, static_cast<std::size_t>(argc - 2));
#if DSVL_WITH_IMAGE
    if (cmd == "run") return dsvl::tool::run_model(rest);
    if (cmd == "forward") return dsvl::tool::forward_model(rest);
    if (cmd == "inspect") return dsvl::tool::inspect_model(rest);
    if (cmd == "quantize") return dsvl::tool::quantize_model(rest);
    if (cmd == "random-model") return dsvl::tool::random_model(rest);
#endif
    if (cmd == "tokenize") return dsvl::tool::tokenize(rest);
    if (cmd == "detokenize") return dsvl::tool::detokenize(rest);
#ifdef DSVL_TOOL_WITH_BENCH
    if (cmd == "bench") return dsvl::bench::run(argc - 1, argv + 1);
#endif
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      usage(std::cout);
      return 0;
    }
    std::cerr << "dsvl: unknown command '" << cmd << "'\n";
    usage(std::cerr);
    return 2;
  } catch (const std::exception& e) {
    // The tool's own errors start with "dsvl: " or "dsvl <command>: "; the library's name a file.
    const std::string_view what = e.what();
    const bool named = what.starts_with("dsvl: ") || what.starts_with("dsvl " + std::string(cmd) + ": ");
    std::cerr << (named ? "" : "dsvl: ") << what << "\n";
    return 1;
  }
}
