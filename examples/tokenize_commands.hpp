// `dsvl tokenize` and `dsvl detokenize`: a tokenizer.json on the command line.
#pragma once

#include <cstdint>
#include <fstream>
#include <iostream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/io/json.hpp"
#include "dsvl/io/tokenizer.hpp"

namespace dsvl::tool {

inline constexpr const char* kTokenizeUsage =
    "usage: dsvl tokenize --tokenizer FILE [--add-special] [--jsonl IN]\n"
    "  Encodes text with a tokenizer.json (or a folder holding one and tokenizer_config.json).\n"
    "  --jsonl IN     read JSON lines {\"text\": ...} from IN ('-' for stdin) and write one line\n"
    "                 {\"ids\": [...]} per input line, in order; without it, all of stdin is one text\n"
    "  --add-special  add BOS/EOS as the tokenizer says (special tokens written in the text are\n"
    "                 recognised either way)\n";

inline constexpr const char* kDetokenizeUsage =
    "usage: dsvl detokenize --tokenizer FILE [--skip-special]\n"
    "  Reads whitespace-separated ids from stdin and prints their text.\n";

struct TokenizerArgs {
  std::string tokenizer, jsonl;
  bool add_special = false, skip_special = false, help = false;
};

inline TokenizerArgs parse_tokenizer_args(std::span<char*> args, bool detokenize) {
  TokenizerArgs a;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) fail("dsvl", "option ", arg, " needs a value");
      return args[++i];
    };
    if (arg == "--tokenizer") a.tokenizer = value();
    else if (arg == "--jsonl" && !detokenize) a.jsonl = value();
    else if (arg == "--add-special" && !detokenize) a.add_special = true;
    else if (arg == "--skip-special" && detokenize) a.skip_special = true;
    else if (arg == "--help" || arg == "-h") a.help = true;
    else fail("dsvl", "unknown option '", arg, "'");
  }
  if (!a.help && a.tokenizer.empty()) fail("dsvl", "--tokenizer FILE is required");
  return a;
}

inline void write_ids(std::ostream& os, const std::vector<std::int32_t>& ids) {
  os << "{\"ids\": [";
  for (std::size_t i = 0; i < ids.size(); ++i) os << (i ? ", " : "") << ids[i];
  os << "]}\n";
}

inline int tokenize(std::span<char*> args) {
  const TokenizerArgs a = parse_tokenizer_args(args, false);
  if (a.help) {
    std::cout << kTokenizeUsage;
    return 0;
  }
  const io::Tokenizer tok = io::Tokenizer::from_file(a.tokenizer);
  std::ios::sync_with_stdio(false);
  if (a.jsonl.empty()) {
    const std::string text{std::istreambuf_iterator<char>(std::cin), {}};
    write_ids(std::cout, tok.encode(text, a.add_special));
    return 0;
  }
  std::ifstream file;
  if (a.jsonl != "-") {
    file.open(a.jsonl, std::ios::binary);
    if (!file) fail(a.jsonl, "cannot open");
  }
  std::istream& in = a.jsonl == "-" ? std::cin : file;
  const std::string name = a.jsonl == "-" ? "<stdin>" : a.jsonl;
  std::string line;
  std::vector<std::int32_t> ids;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    const std::string where = name + ":" + std::to_string(n);
    const auto j = io::parse_json(line, where);
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      fail(where, "expected a JSON object with a string \"text\"");
    ids.clear();
    tok.encode(j["text"].get_ref<const std::string&>(), a.add_special, ids);
    write_ids(std::cout, ids);
  }
  return 0;
}

inline int detokenize(std::span<char*> args) {
  const TokenizerArgs a = parse_tokenizer_args(args, true);
  if (a.help) {
    std::cout << kDetokenizeUsage;
    return 0;
  }
  const io::Tokenizer tok = io::Tokenizer::from_file(a.tokenizer);
  std::vector<std::int32_t> ids;
  for (std::string word; std::cin >> word;) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < INT32_MIN || v > INT32_MAX)
      fail("dsvl detokenize", "'", word, "' is not a token id");
    ids.push_back(static_cast<std::int32_t>(v));
  }
  std::cout << tok.decode(ids, a.skip_special);
  return 0;
}

}  // namespace dsvl::tool
