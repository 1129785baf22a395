// dsvl-bench-tokenizer: tokenizer.json load time and single-thread encode throughput over a corpus
// (one text per line, as in `dsvl tokenize --jsonl`). bench/tokenizer/compare_hf.py runs it side
// by side with Hugging Face `tokenizers`.
//
//   dsvl-bench-tokenizer TOKENIZER CORPUS [SAMPLES]
//
// Prints one JSON object: load_s (median), mb_per_s (median over samples), tokens, bytes.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "dsvl/io/tokenizer.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: dsvl-bench-tokenizer TOKENIZER CORPUS [SAMPLES]\n";
    return 2;
  }
  const int samples = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
  try {
    std::vector<double> loads;
    for (int i = 0; i < 3; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto t = dsvl::io::Tokenizer::from_file(argv[1]);
      loads.push_back(seconds_since(t0));
    }
    const auto tok = dsvl::io::Tokenizer::from_file(argv[1]);

    std::ifstream f(argv[2], std::ios::binary);
    if (!f) throw std::runtime_error(std::string(argv[2]) + ": cannot open");
    std::vector<std::string> lines;
    std::size_t bytes = 0;
    for (std::string line; std::getline(f, line);) {
      line += '\n';
      bytes += line.size();
      lines.push_back(std::move(line));
    }
    std::vector<double> rates;
    std::size_t tokens = 0;
    std::vector<std::int32_t> ids;
    for (int s = 0; s < samples; ++s) {
      tokens = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (const auto& line : lines) {
        ids.clear();
        tok.encode(line, false, ids);
        tokens += ids.size();
      }
      rates.push_back(static_cast<double>(bytes) / seconds_since(t0) / 1e6);
    }
    std::cout << "{\"load_s\": " << median(loads) << ", \"mb_per_s\": " << median(rates)
              << ", \"tokens\": " << tokens << ", \"bytes\": " << bytes << "}\n";
  } catch (const std::exception& e) {
    std::cerr << "dsvl-bench-tokenizer: " << e.what() << "\n";
    return 1;
  }
}
