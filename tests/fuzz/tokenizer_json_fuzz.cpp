// Fuzz target: loading a tokenizer.json and encoding with it. The input is the JSON, then
// optionally a NUL byte and a text to encode. Anything wrong must surface as dsvl::Error; any
// tokenizer that loads must encode and decode without failing, and stream what decode() gives.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dsvl/io/detokenizer.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/io/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = in.find('\0');
  const std::string_view json = in.substr(0, nul);
  const std::string_view text = nul == std::string_view::npos ? "" : in.substr(nul + 1);
  std::optional<dsvl::io::Tokenizer> tok;
  try {
    tok.emplace(dsvl::io::Tokenizer::from_json(dsvl::io::parse_json(json, "fuzz.json"), nullptr,
                                               "fuzz.json"));
  } catch (const dsvl::Error&) {
    return 0;
  }
  std::vector<std::int32_t> ids;
  try {
    ids = tok->encode(text, true);
  } catch (const dsvl::Error&) {
    // Invalid UTF-8, or a byte the vocabulary has no symbol for: both are reported, not guessed.
    return 0;
  }
  const std::string decoded = tok->decode(ids);
  dsvl::io::Detokenizer stream(*tok);
  std::string streamed;
  for (const std::int32_t id : ids) streamed += stream.push(id);
  streamed += stream.finish();
  if (streamed != decoded) std::abort();
  return 0;
}
