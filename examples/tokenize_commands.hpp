// `dsvl tokenize` and `dsvl detokenize`: a tokenizer.json on the command line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/io/tokenizer.hpp"

namespace dsvl::tool {

inline void write_ids(std::ostream& os, const std::vector<std::int32_t>& ids) {
  os << "{\"ids\": [";
  for (std::size_t i = 0; i < ids.size(); ++i) os << (i ? ", " : "") << ids[i];
  os << "]}\n";
}

inline int tokenize(const Options& a) {
  if (a.tokenizer.empty()) fail("dsvl tokenize", "--tokenizer FILE is required");
  const io::Tokenizer tok = io::Tokenizer::from_file(a.tokenizer);
  std::ios::sync_with_stdio(false);
  if (a.jsonl.empty()) {
    const std::string text{std::istreambuf_iterator<char>(std::cin), {}};
    write_ids(std::cout, tok.encode(text, a.add_special));
    return 0;
  }
  std::ifstream file;
  if (a.jsonl != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(a.jsonl, ec)) fail(a.jsonl, "is a folder, expected a JSON-lines file");
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
  if (in.bad()) fail(name, "error while reading");
  return 0;
}

inline int detokenize(const Options& a) {
  if (a.tokenizer.empty()) fail("dsvl detokenize", "--tokenizer FILE is required");
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

inline const std::vector<Command>& tokenize_commands() {
  static const std::vector<Command> commands = {
      {"tokenize", "text to token ids with a tokenizer.json",
       "Encodes all of stdin as one text (or, with --jsonl, each line's text) with a tokenizer.json (or a folder "
       "holding one and tokenizer_config.json) and writes {\"ids\": [...]} lines; special tokens written in the "
       "text are recognised either way.",
       {"--tokenizer", "--add-special", "--jsonl"},
       tokenize},
      {"detokenize", "token ids to text",
       "Reads whitespace-separated ids from stdin and prints their text.",
       {"--tokenizer", "--skip-special"},
       detokenize},
  };
  return commands;
}

}  // namespace dsvl::tool
