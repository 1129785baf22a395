// Fuzz target for language::parse_grounding. Input: the image width and height as two
// little-endian 32-bit integers (their top bit cleared), then the text. Checks that the parser
// throws only for a zero side and that every result satisfies grounding_violation's invariants.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dsvl/language/grounding.hpp"
#include "fuzz/grounding_invariants.hpp"

namespace {

int side(const std::uint8_t* p) {
  const std::uint32_t v = std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
                          std::uint32_t{p[3]} << 24;
  return static_cast<int>(v & 0x7FFFFFFFu);
}

[[noreturn]] void fail(const std::string& what, std::string_view text) {
  std::fprintf(stderr, "grounding_fuzz: %s\ntext (%zu bytes): %.*s\n", what.c_str(), text.size(),
               static_cast<int>(text.size() < 2000 ? text.size() : 2000), text.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  const int width = side(data), height = side(data + 4);
  const std::string_view text(reinterpret_cast<const char*>(data) + 8, size - 8);
  if (width == 0 || height == 0) {
    try {
      (void)dsvl::language::parse_grounding(text, width, height);
    } catch (const dsvl::Error&) {
      return 0;
    }
    fail("no dsvl::Error for image size " + std::to_string(width) + "x" + std::to_string(height), text);
  }
  const dsvl::language::Grounding g = dsvl::language::parse_grounding(text, width, height);
  if (const std::string v = dsvl_test::grounding_violation(text, g, width, height); !v.empty())
    fail(v + " (image " + std::to_string(width) + "x" + std::to_string(height) + ")", text);
  return 0;
}
