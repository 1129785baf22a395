// dsvl: the command-line tool. `dsvl --help` lists the commands, `dsvl <command> --help` a
// command's options (examples/cli.hpp declares each flag once). The model commands run any model
// directory of a generation in the registry through the model shell (dsvl/models/model.hpp).
#include <csignal>
#include <iomanip>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/policy/hwy.hpp"
#include "dsvl/policy/xsimd.hpp"

#include <hwy/highway.h>

#include "dsvl/dsvl.hpp"
#include "tokenize_commands.hpp"
#if DSVL_WITH_IMAGE
#include "model_commands.hpp"
#include "ocr_command.hpp"
#endif
#ifdef DSVL_TOOL_WITH_BENCH
#include "driver.hpp"
#endif

namespace {

std::vector<dsvl::tool::Command> commands() {
  std::vector<dsvl::tool::Command> all;
#if DSVL_WITH_IMAGE
  all = dsvl::tool::model_commands();
  for (const auto& c : dsvl::tool::ocr_commands()) all.push_back(c);
#endif
  for (const auto& c : dsvl::tool::tokenize_commands()) all.push_back(c);
  return all;
}

void usage(std::ostream& os) {
  os << "usage: dsvl <command> [options]\n\ncommands:\n";
  for (const auto& c : commands()) os << "  " << std::left << std::setw(14) << c.name << c.summary << "\n";
  os << "  " << std::setw(14) << "info" << "version, threads, instruction set and the native-kernel matrix\n";
#ifdef DSVL_TOOL_WITH_BENCH
  os << "  " << std::setw(14) << "bench" << "kernel benchmarks at the models' shapes (dsvl bench --help)\n";
#endif
  os << "\n`dsvl <command> --help` lists a command's options.\n";
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
  // A write past `ulimit -f` fails with EFBIG and an error naming the file, instead of killing the
  // process mid-file.
  std::signal(SIGXFSZ, SIG_IGN);
  const std::string_view cmd = argv[1];
  try {
    if (cmd == "info") return info();
#ifdef DSVL_TOOL_WITH_BENCH
    if (cmd == "bench") return dsvl::bench::run(argc - 1, argv + 1);
#endif
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      usage(std::cout);
      return 0;
    }
    const std::span<char*> rest(argv + 2, static_cast<std::size_t>(argc - 2));
    for (const auto& c : commands())
      if (c.name == cmd) return dsvl::tool::run_command(c, rest, std::cout);
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
