// Fuzz target for language::parse_document and its renderings. Input: the page width and height
// as two little-endian 32-bit integers (their top bit cleared), then the answer. Checks that only
// a zero side throws and that every result satisfies document_violation's invariants.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dsvl/language/document.hpp"
#include "fuzz/document_invariants.hpp"

namespace {

int side(const std::uint8_t* p) {
  const std::uint32_t v = std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
                          std::uint32_t{p[3]} << 24;
  return static_cast<int>(v & 0x7FFFFFFFu);
}

[[noreturn]] void fail(const std::string& what, std::string_view text) {
  std::fprintf(stderr, "document_fuzz: %s\nanswer (%zu bytes): %.*s\n", what.c_str(), text.size(),
               static_cast<int>(text.size() < 2000 ? text.size() : 2000), text.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  const int width = side(data), height = side(data + 4);
  const std::string_view answer(reinterpret_cast<const char*>(data) + 8, size - 8);
  if (width == 0 || height == 0) {
    try {
      (void)dsvl::language::parse_document(answer, width, height);
    } catch (const dsvl::Error&) {
      return 0;
    }
    fail("no dsvl::Error for page size " + std::to_string(width) + "x" + std::to_string(height), answer);
  }
  const dsvl::language::Document doc = dsvl::language::parse_document(answer, width, height);
  if (const std::string v = dsvl_test::document_violation(answer, doc); !v.empty())
    fail(v + " (page " + std::to_string(width) + "x" + std::to_string(height) + ")", answer);
  return 0;
}
