// The byte-level BPE tokenizer: its parts (UTF-8, Unicode properties, regexes, byte alphabet,
// BPE, added tokens), and the real DeepSeek tokenizers against Hugging Face's ids.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "dsvl/io/detokenizer.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/io/regex.hpp"
#include "dsvl/io/tokenizer.hpp"
#include "shared_data.hpp"

namespace {

namespace fs = std::filesystem;
using dsvl::io::Detokenizer;
using dsvl::io::Regex;
using dsvl::io::Tokenizer;
using Ids = std::vector<std::int32_t>;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::u32string u32(std::string_view s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto st = dsvl::io::utf8::next(s.substr(i));
    REQUIRE(st.kind == dsvl::io::utf8::Step::kValid);
    out += st.code_point;
    i += static_cast<std::size_t>(st.length);
  }
  return out;
}

// The matches of `re` in `text`, as UTF-8 strings.
std::vector<std::string> matches(const Regex& re, std::string_view text) {
  const std::u32string t = u32(text);
  std::vector<std::string> out;
  re.for_each_match(t, [&](const Regex::Match& m) {
    std::string s;
    for (std::size_t i = m.begin; i < m.end; ++i) dsvl::io::utf8::append(s, t[i]);
    out.push_back(s);
  });
  return out;
}

// A tokenizer.json with a small vocabulary, for the mechanics.
nlohmann::json tiny_tokenizer_json() {
  return nlohmann::json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [
      {"id": 9, "content": "<s>", "special": true, "normalized": false, "lstrip": false, "rstrip": false, "single_word": false}
    ],
    "normalizer": null,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\s?[a-z]+"}, "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
    "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
    "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
              "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
              "vocab": {"a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "bc": 5, "abc": 6, "Ġa": 7, "!": 8},
              "merges": ["b c", "a b", "a bc", "Ġ a"]}
  })");
}

// Cases of a llama.cpp vocabulary test (.inp cases separated by a marker line) with expected ids
// (.out, one line per case).
struct Case {
  std::string text;
  Ids ids;
};
std::vector<Case> read_inp_out(const fs::path& inp, const fs::path& out) {
  const std::string in = slurp(inp);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (std::size_t p = 0;;) {
    const auto q = in.find(sep, p);
    if (q == std::string::npos) break;
    cases.push_back({in.substr(p, q - p), {}});
    p = q + sep.size();
  }
  std::istringstream os(slurp(out));
  std::string line;
  for (auto& c : cases) {
    REQUIRE(std::getline(os, line));
    std::istringstream ls(line);
    for (std::int32_t x; ls >> x;) c.ids.push_back(x);
  }
  return cases;
}

// SHA-256 (FIPS 180-4), for llama.cpp's tokenizer fingerprints.
std::string sha256_hex(std::string_view msg) {
  static constexpr std::uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::string m(msg);
  const std::uint64_t bits = std::uint64_t{msg.size()} * 8;
  m += '\x80';
  while (m.size() % 64 != 56) m += '\0';
  for (int i = 7; i >= 0; --i) m += static_cast<char>(bits >> (8 * i));
  auto rotr = [](std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  for (std::size_t off = 0; off < m.size(); off += 64) {
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = std::uint32_t{static_cast<unsigned char>(m[off + 4 * i])} << 24 |
             std::uint32_t{static_cast<unsigned char>(m[off + 4 * i + 1])} << 16 |
             std::uint32_t{static_cast<unsigned char>(m[off + 4 * i + 2])} << 8 |
             std::uint32_t{static_cast<unsigned char>(m[off + 4 * i + 3])};
    for (int i = 16; i < 64; ++i) {
      const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const std::uint32_t t1 =
          hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
  std::string hex;
  for (std::uint32_t v : h)
    for (int i = 28; i >= 0; i -= 4) hex += "0123456789abcdef"[(v >> i) & 15];
  return hex;
}

// Python's str() of a list of ints.
std::string python_list(const Ids& ids) {
  std::string s = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

#define SKIP_WITHOUT_SHARED(path)                                                         \
  if ((path).empty()) {                                                                   \
    MESSAGE("skipped: no shared data in " << dsvl::test::shared_data_dir().string()       \
                                          << " (set DSVL_SHARED_DATA)");                  \
    return;                                                                               \
  }

}  // namespace

// ---- UTF-8 ---------------------------------------------------------------------------------

TEST_CASE("utf8: invalid sequences become one U+FFFD per maximal subpart") {
  using dsvl::io::utf8::lossy;
  // The example of the Unicode standard, §3.9 (Table 3-8).
  CHECK(lossy("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64") ==
        "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd");
  CHECK(lossy("\xC0\xAF") == "\uFFFD\uFFFD");          // overlong
  CHECK(lossy("\xED\xA0\x80") == "\uFFFD\uFFFD\uFFFD");  // a surrogate
  CHECK(lossy("\xF4\x90\x80\x80") == "\uFFFD\uFFFD\uFFFD\uFFFD");  // above U+10FFFF
  CHECK(lossy("\xF0\x9F\x98") == "\uFFFD");             // truncated at the end
  CHECK(lossy("h\xC3\xA9llo \xF0\x9F\x98\x80") == "h\xC3\xA9llo \xF0\x9F\x98\x80");
  CHECK(dsvl::io::utf8::first_invalid("ab\xE2\x82") == 2);
}

// ---- Unicode properties --------------------------------------------------------------------

TEST_CASE("unicode: categories and White_Space from the generated tables") {
  using namespace dsvl::io::unicode;
  CHECK(std::string(kUnicodeVersion) == "16.0.0");
  CHECK(category(U'a') == Ll);
  CHECK(category(U'\u00C0') == Lu);
  CHECK(category(U'\u0301') == Mn);
  CHECK(category(U'\u00BD') == No);  // ½
  CHECK(category(U'\u2162') == Nl);  // Ⅲ
  CHECK(category(U'\u0663') == Nd);  // Arabic-Indic three
  CHECK(category(U'\u3001') == Po);
  CHECK(category(U'\U0001F600') == So);
  CHECK(category(U'\u0378') == Cn);                // unassigned
  CHECK(category(U'\U0001E5D0') == Lo);            // Ol Onal, new in Unicode 16.0
  CHECK(category(U'\U000F0000') == Co);
  CHECK(category(char32_t{0x10FFFF}) == Cn);
  CHECK(category(char32_t{0x110000}) == Cn);
  // White_Space is exactly these 25 code points.
  const std::vector<char32_t> ws = {0x9,    0xA,    0xB,    0xC,    0xD,    0x20,   0x85,
                                    0xA0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
                                    0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028,
                                    0x2029, 0x202F, 0x205F, 0x3000};
  std::vector<char32_t> found;
  for (char32_t c = 0; c < 0x110000; ++c)
    if (is_white_space(c)) found.push_back(c);
  CHECK(found == ws);
  CHECK(is_word(U'_'));
  CHECK(is_word(U'\u0301'));
  CHECK(is_word(U'\u24B6'));  // Ⓐ: So, but Other_Alphabetic
  CHECK(is_word(U'\u200D'));  // ZWJ: Join_Control
  CHECK_FALSE(is_word(U'-'));
}

// ---- regex ---------------------------------------------------------------------------------

TEST_CASE("regex: Oniguruma semantics of the patterns tokenizers use") {
  using V = std::vector<std::string>;
  CHECK(matches(Regex("\\p{N}{1,3}"), "12345 x 6") == V{"123", "45", "6"});
  CHECK(matches(Regex("\\s+(?!\\S)|\\s+"), "a   b  ") == V{"  ", " ", "  "});
  CHECK(matches(Regex("\\s+$"), "a  b  ") == V{"  "});
  // Leftmost-first: the first alternative that matches wins, not the longest.
  CHECK(matches(Regex("a|ab"), "ab") == V{"a"});
  CHECK(matches(Regex("ab|a"), "ab") == V{"ab"});
  CHECK(matches(Regex("a+?b"), "aaab") == V{"aaab"});
  CHECK(matches(Regex("x(?:ab)*?b"), "xababb") == V{"xababb"});
  CHECK(matches(Regex("(?:ab){2,}"), "abababx ab") == V{"ababab"});
  CHECK(matches(Regex("(?=a)\\w"), "ba") == V{"a"});
  CHECK(matches(Regex("[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"), " e\u0301t\u00E9!") ==
        V{" e\u0301t\u00E9"});
  CHECK(matches(Regex("[\\-a]+"), "a-b") == V{"a-"});
  CHECK(matches(Regex("\\x{1F600}|\\u00e9"), "\u00E9\U0001F600") == V{"\u00E9", "\U0001F600"});
  CHECK(matches(Regex("^a|b$"), "a\nab\nb") == V{"a", "a", "b", "b"});
  CHECK(matches(Regex("\\Aa|a\\z"), "aaa") == V{"a", "a"});
  CHECK(matches(Regex("."), "a\nb") == V{"a", "b"});
  CHECK(matches(Regex("a{,2}b"), "aaab") == V{"aab"});
  CHECK(matches(Regex("a{x"), "a{x") == V{"a{x"});  // '{' that opens no interval is literal
  CHECK(matches(Regex("\\P{L}+|\\p{^N}"), "ab12") == V{"a", "b", "12"});
}

TEST_CASE("regex: unsupported syntax is refused with the pattern and the place") {
  auto refused = [](const char* pattern, const char* why) {
    CAPTURE(pattern);
    try {
      Regex r(pattern);
      FAIL("accepted");
    } catch (const dsvl::Error& e) {
      CHECK(std::string(e.what()).find(pattern) != std::string::npos);
      CHECK(std::string(e.what()).find(why) != std::string::npos);
    }
  };
  refused("a*", "empty string");
  refused("(?i)a", "group syntax");
  refused("(?<=a)b", "group syntax");
  refused("(a)\\1", "unsupported escape");
  refused("a++", "possessive");
  refused("[a[b]]", "nested");
  refused("[a&&b]", "intersection");
  refused("\\p{Greek}", "unknown property");
  refused("(a", "missing ')'");
  refused("a)", "unmatched");
  refused("[ab", "missing ']'");
  refused("[b-a]", "out of order");
  refused("*a", "nothing to repeat");
  refused("(?:a*)*b", "empty string");
}

TEST_CASE("regex: searches stay linear on long runs") {
  // Without the memo of visited states these take quadratic time (minutes at this size).
  const std::u32string spaces = std::u32string(200000, U' ') + U"x";
  CHECK_FALSE(Regex("\\s+$").find(spaces).has_value());
  std::size_t n = 0;
  Regex("\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+").for_each_match(spaces, [&](const Regex::Match&) { ++n; });
  CHECK(n == 2);  // all spaces but the last (not followed by \S), then the last
  const std::u32string digits(100000, U'7');
  n = 0;
  Regex("\\p{N}{1,3}").for_each_match(digits, [&](const Regex::Match&) { ++n; });
  CHECK(n == 33334);
}

TEST_CASE("regex: nested repetitions and look-aheads take steps linear in the text") {
  // A backtracking matcher without the memo takes exponential time on these (seconds at 24 code
  // points, for ever at 10000): the steps are bounded by 4 x program size x (text size + 1).
  using Spans = std::vector<std::pair<std::size_t, std::size_t>>;
  auto run = [](const char* pattern, const std::u32string& text) {
    CAPTURE(pattern);
    const Regex re(pattern);
    Spans out;
    const std::size_t steps =
        re.for_each_match(text, [&](const Regex::Match& m) { out.emplace_back(m.begin, m.end); });
    CHECK(steps <= 4 * re.program_size() * (text.size() + 1));
    return out;
  };
  const std::u32string a(10000, U'a'), ab = a + U"b", spaces(10000, U' ');
  CHECK(run("(a+)+$", std::u32string(26, U'a') + U"b").empty());
  CHECK(run("(a+)+$", ab).empty());
  CHECK(run("(a+)+$", a) == Spans{{0, 10000}});
  CHECK(run("(a|a)+$", ab).empty());
  CHECK(run("(a|aa)+c", ab).empty());
  CHECK(run("(a+)*b", a).empty());
  CHECK(run("(a+)*b", ab) == Spans{{0, 10001}});
  CHECK(run("(\\s+\\s+)+$", spaces + U"x").empty());
  CHECK(run("(\\s+\\s+)+$", spaces) == Spans{{0, 10000}});
  CHECK(run("(?:a{1,3}?)+?b", ab) == Spans{{0, 10001}});
  // Look-aheads: each body result is remembered, failing or matching.
  CHECK(run("a(?=(a+)+b)", a).empty());
  const Spans each_a = run("a(?=(a+)+b)", ab);
  CHECK(each_a.size() == 9999);  // every 'a' followed by a's and the 'b', all but the last
  CHECK(each_a.back() == std::pair<std::size_t, std::size_t>{9998, 9999});
  CHECK(run("a(?=[ab]*c)", a).empty());
  CHECK(run("a(?!(a|a)+$)", a) == Spans{{9999, 10000}});
  CHECK(run("a(?!(a|a)+$)", ab).size() == 10000);
  // `(a*)*b` repeats something that can match the empty string: refused, as before.
  CHECK_THROWS_AS(Regex("(a*)*b"), dsvl::Error);
}

// ---- byte alphabet, BPE, added tokens ------------------------------------------------------

TEST_CASE("byte_level: 256 distinct characters that decode back") {
  using namespace dsvl::io::byte_level;
  for (unsigned b = 0; b < 256; ++b) {
    CHECK(char_to_byte(kByteToChar[b]) == static_cast<std::uint8_t>(b));
    for (unsigned c = 0; c < b; ++c) CHECK(kByteToChar[b] != kByteToChar[c]);
  }
  CHECK(kByteToChar[' '] == U'\u0120');
  CHECK(kByteToChar['\n'] == U'\u010A');
  CHECK(encode("a b") == "a\u0120b");
  CHECK(decode("a\u0120b") == "a b");
  CHECK(decode("<\uFF5Cx\uFF5C>") == "<\uFF5Cx\uFF5C>");  // not all in the alphabet: as written
}

TEST_CASE("tokenizer: BPE merges by rank, leftmost first among equals") {
  const Tokenizer t = Tokenizer::from_json(tiny_tokenizer_json(), nullptr, "tiny");
  // "abc": b+c (rank 0) before a+b (rank 1), then a+bc.
  CHECK(t.encode("abc") == Ids{6});
  CHECK(t.encode("ab") == Ids{4});
  CHECK(t.encode("bcbc") == Ids{5, 5});
  CHECK(t.encode("ba") == Ids{1, 0});
  CHECK(t.encode(" a") == Ids{7});
  CHECK(t.encode(" ab!") == Ids{3, 4, 8});  // " ab" has no merge " "+"ab"
  CHECK(t.encode("<s>abc<s>") == Ids{9, 6, 9});
  CHECK(t.encode("").empty());
  CHECK(t.decode(Ids{9, 7, 5}) == "<s> abc");
  CHECK(t.decode(Ids{9, 7, 5}, true) == " abc");
  CHECK(t.vocab_size() == 10);
  CHECK(t.token_to_id("\u0120a") == 7);
  CHECK(t.id_to_token(9) == "<s>");
  CHECK_FALSE(t.id_to_token(10).has_value());
}

TEST_CASE("tokenizer: bad input and unsupported tokenizer.json parts are clear errors") {
  const Tokenizer t = Tokenizer::from_json(tiny_tokenizer_json(), nullptr, "tiny.json");
  CHECK_THROWS_WITH(t.encode("ab\xFF" "c"), doctest::Contains("not valid UTF-8 (at byte 2)"));
  CHECK_THROWS_WITH(t.decode(Ids{10}), doctest::Contains("token id 10 is not in the vocabulary"));
  CHECK_THROWS_WITH(t.decode(Ids{-1}), doctest::Contains("token id -1"));
  CHECK_THROWS_WITH(t.encode("\xC3\xA9"), doctest::Contains("byte 0xC3 has no symbol"));

  auto refused = [](auto edit, const char* why) {
    nlohmann::json j = tiny_tokenizer_json();
    edit(j);
    CHECK_THROWS_WITH(Tokenizer::from_json(j, nullptr, "tok.json"), doctest::Contains(why));
  };
  refused([](auto& j) { j["normalizer"] = {{"type", "NFC"}}; }, "normalizer");
  refused([](auto& j) { j["decoder"] = {{"type", "WordPiece"}}; }, "decoder");
  refused([](auto& j) { j["model"]["type"] = "Unigram"; }, "model type \"Unigram\"");
  refused([](auto& j) { j["model"]["byte_fallback"] = true; }, "model.byte_fallback");
  refused([](auto& j) { j["model"]["dropout"] = 0.1; }, "model.dropout");
  refused([](auto& j) { j["model"]["merges"].push_back("a zz"); }, "\"zz\" is not in the vocabulary");
  refused([](auto& j) { j["model"]["merges"].push_back("abc"); }, "two tokens");
  refused([](auto& j) { j["model"]["vocab"]["dup"] = 3; }, "id 3 is used by both");
  refused([](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(?i)x"; },
          "pretokenizers[0]: regex /(?i)x/");
  refused([](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["type"] = "Whitespace"; },
          "\"Whitespace\" is not supported");
  refused([](auto& j) { j["pre_tokenizer"]["pretokenizers"].erase(1); }, "ByteLevel");
  refused([](auto& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Other"; }, "behavior");
  refused([](auto& j) { j["post_processor"] = {{"type", "BertProcessing"}}; }, "post_processor");
  refused([](auto& j) { j["added_tokens"].push_back(j["added_tokens"][0]); }, "listed twice");
  refused([](auto& j) { j["added_tokens"][0]["content"] = ""; }, "empty content");
  refused([](auto& j) { j.erase("model"); }, "no \"model\"");

  CHECK_THROWS_WITH(Tokenizer::from_file("/nonexistent/tokenizer.json"),
                    doctest::Contains("/nonexistent/tokenizer.json: no such file"));
  const fs::path bad = fs::temp_directory_path() / "dsvl_bad_tokenizer.json";
  std::ofstream(bad) << "{\"model\": {\"type\": \"BPE\", ";
  CHECK_THROWS_WITH(Tokenizer::from_file(bad), doctest::Contains(bad.string().c_str()));
  fs::remove(bad);
}

TEST_CASE("tokenizer: BOS and EOS as tokenizer_config.json says") {
  const auto json = tiny_tokenizer_json();
  Tokenizer plain = Tokenizer::from_json(json, nullptr, "tiny");
  CHECK(plain.encode("ab", true) == Ids{4});
  CHECK_FALSE(plain.bos_id().has_value());
  CHECK_THROWS_WITH(plain.set_add_bos(true), doctest::Contains("bos_token but the tokenizer has none"));

  const auto llama = nlohmann::json::parse(R"({"tokenizer_class": "LlamaTokenizerFast",
      "bos_token": {"content": "<s>", "__type": "AddedToken"}, "eos_token": "!"})");
  Tokenizer t = Tokenizer::from_json(json, &llama, "dir/tokenizer.json");
  CHECK(t.encode("ab", true) == Ids{9, 4});  // Llama defaults: BOS, no EOS
  CHECK(t.encode("ab") == Ids{4});
  t.set_add_eos(true);
  CHECK(t.encode("ab", true) == Ids{9, 4, 8});
  CHECK(t.bos_id() == 9);
  CHECK(t.eos_id() == 8);

  const auto other = nlohmann::json::parse(R"({"add_bos_token": false, "add_eos_token": true,
      "bos_token": "<s>", "eos_token": "!"})");
  CHECK(Tokenizer::from_json(json, &other, "t").encode("ab", true) == Ids{4, 8});

  const auto unknown = nlohmann::json::parse(R"({"bos_token": "<nope>"})");
  CHECK_THROWS_WITH(Tokenizer::from_json(json, &unknown, "dir/tokenizer.json"),
                    doctest::Contains("dir/tokenizer_config.json: bos_token \"<nope>\""));

  auto tpl = json;
  tpl["post_processor"] = nlohmann::json::parse(R"({"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "!", "type_id": 0}}],
      "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [9], "tokens": ["<s>"]},
                                      "!": {"id": "!", "ids": [8], "tokens": ["!"]}}})");
  CHECK(Tokenizer::from_json(tpl, nullptr, "t").encode("ab", true) == Ids{9, 4, 8});
}

TEST_CASE("detokenizer: streaming gives the text of decoding all at once") {
  const auto path = dsvl::test::shared_data("tokenizers/deepseek-v3/tokenizer.json");
  SKIP_WITHOUT_SHARED(path);
  const Tokenizer t = Tokenizer::from_file(path);
  const std::string text =
      "Emoji \U0001F469\u200D\U0001F4BB and \U0001F1EF\U0001F1F5, \u0dc1\u0dca\u200d\u0dbb\u0dd3, "
      "e\u0301\u0302\u0303, \U0001E5D0\U0001E5D1<\uFF5Cend\u2581of\u2581sentence\uFF5C>\u4F60\u597D";
  const Ids ids = t.encode(text);
  for (const bool skip : {false, true}) {
    Detokenizer d(t, skip);
    std::string streamed;
    for (const std::int32_t id : ids) {
      const std::string piece = d.push(id);
      CHECK(dsvl::io::utf8::first_invalid(piece) == piece.size());
      streamed += piece;
    }
    streamed += d.finish();
    CHECK(streamed == t.decode(ids, skip));
  }
  CHECK(t.decode(ids) == text);
  // A stream cut inside a character: the rest becomes U+FFFD, as decode() does.
  Detokenizer d(t);
  const Ids emoji = t.encode("\U0001F9FF");
  REQUIRE(emoji.size() > 1);
  CHECK(d.push(emoji[0]).empty());
  CHECK(d.pending_bytes() > 0);
  CHECK(d.finish() == "\uFFFD");
  CHECK(t.decode(Ids{emoji[0]}) == "\uFFFD");
}

// ---- the real DeepSeek tokenizers ----------------------------------------------------------

TEST_CASE("tokenizer: llama.cpp's DeepSeek vocabulary tests (ids made by Hugging Face)") {
  for (const char* name : {"deepseek-llm", "deepseek-coder"}) {
    CAPTURE(name);
    const auto dir = dsvl::test::shared_data(std::string("tokenizers/") + name);
    SKIP_WITHOUT_SHARED(dir);
    const Tokenizer t = Tokenizer::from_file(dir / "tokenizer.json");
    const std::string base = std::string("ggml-vocab-") + name + ".gguf";
    const auto cases = read_inp_out(dir / (base + ".inp"), dir / (base + ".out"));
    CHECK(cases.size() == 46);
    for (const Case& c : cases) {
      CAPTURE(c.text);
      CHECK(t.encode(c.text) == c.ids);
    }
  }
}

TEST_CASE("tokenizer: the vl-extra cases of every DeepSeek tokenizer") {
  for (const char* name :
       {"deepseek-llm", "deepseek-vl-v1", "deepseek-vl2", "deepseek-vl2-small", "deepseek-v3"}) {
    CAPTURE(name);
    const auto dir = dsvl::test::shared_data(std::string("tokenizers/") + name);
    SKIP_WITHOUT_SHARED(dir);
    const Tokenizer t = Tokenizer::from_file(dir / "tokenizer.json");
    const auto cases = read_inp_out(dir / "vl-extra.inp", dir / "vl-extra.out");
    CHECK(cases.size() == 31);
    for (const Case& c : cases) {
      CAPTURE(c.text);
      CHECK(t.encode(c.text) == c.ids);
    }
  }
}

TEST_CASE("tokenizer: llama.cpp's fingerprints (sha256 of the ids of CHK_TXT with BOS)") {
  const auto common = dsvl::test::shared_data("tokenizers/common");
  SKIP_WITHOUT_SHARED(common);
  const std::string chk = slurp(common / "chktxt.txt");
  const auto hashes = dsvl::io::read_json(common / "chkhsh.json");
  for (const char* name : {"deepseek-llm", "deepseek-coder", "deepseek-v3"}) {
    CAPTURE(name);
    Tokenizer t = Tokenizer::from_file(dsvl::test::shared_data(std::string("tokenizers/") + name));
    Ids ids = {hashes[name]["bos_id"].get<std::int32_t>()};
    t.encode(chk, false, ids);
    CHECK(sha256_hex(python_list(ids)) == hashes[name]["chkhsh"].get<std::string>());
  }
  // The deepseek-v3 folder holds tokenizer_config.json (add_bos_token: true), so BOS comes itself.
  const Tokenizer v3 = Tokenizer::from_file(dsvl::test::shared_data("tokenizers/deepseek-v3"));
  CHECK(sha256_hex(python_list(v3.encode(chk, true))) ==
        hashes["deepseek-v3"]["chkhsh"].get<std::string>());
}

TEST_CASE("tokenizer: published id vectors") {
  const auto file = dsvl::test::shared_data("tokenizers/common/reference-vectors.json");
  SKIP_WITHOUT_SHARED(file);
  const auto vectors = dsvl::io::read_json(file);
  for (const auto& v : vectors["vectors"]) {
    const auto name = v["tokenizer"].get<std::string>();
    CAPTURE(name);
    Tokenizer t = Tokenizer::from_file(dsvl::test::shared_data("tokenizers/" + name + "/tokenizer.json"));
    Ids ids;
    if (v["add_bos"].get<bool>()) ids.push_back(*t.token_to_id("<\uFF5Cbegin\u2581of\u2581sentence\uFF5C>"));
    t.encode(v["text"].get<std::string>(), false, ids);
    if (v.value("eos_appended", false)) ids.push_back(*t.token_to_id("<\uFF5Cend\u2581of\u2581sentence\uFF5C>"));
    CHECK(ids == v["ids"].get<Ids>());
    CHECK(t.decode(ids) == (v["add_bos"].get<bool>() ? "<\uFF5Cbegin\u2581of\u2581sentence\uFF5C>" : "") +
                               v["text"].get<std::string>() +
                               (v.value("eos_appended", false) ? "<\uFF5Cend\u2581of\u2581sentence\uFF5C>" : ""));
  }
}

// ---- fixtures from Hugging Face tokenizers (tools/reference/tokenizer_cases.py) -------------

namespace {

// A fixture text: a string, or [[piece, count], ...] for a long input.
std::string fixture_text(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  std::string s;
  for (const auto& part : j)
    for (int k = 0; k < part[1].get<int>(); ++k) s += part[0].get<std::string>();
  return s;
}
Ids fixture_ids(const nlohmann::json& j) {
  if (j.empty() || j[0].is_number()) return j.get<Ids>();
  Ids ids;
  for (const auto& part : j)
    for (int k = 0; k < part[1].get<int>(); ++k)
      for (const auto& id : part[0]) ids.push_back(id.get<std::int32_t>());
  return ids;
}

void check_fixture(const char* name) {
  CAPTURE(name);
  const fs::path file = fs::path(DSVL_TEST_DATA_DIR) / "tokenizer" / (std::string(name) + ".json");
  const auto fx = dsvl::io::read_json(file);
  const auto rel = fx["tokenizer"].get<std::string>();
  const fs::path path = fx["tokenizer_root"] == "shared_data" ? dsvl::test::shared_data(rel)
                                                              : file.parent_path() / rel;
  SKIP_WITHOUT_SHARED(path);
  const Tokenizer t = Tokenizer::from_file(path);
  std::size_t n = 0;
  for (const auto& c : fx["cases"]) {
    const std::string text = fixture_text(c["text"]);
    CAPTURE(c["name"].get<std::string>());
    const Ids ids = t.encode(text);
    CHECK(ids == fixture_ids(c["ids"]));
    if (c.contains("ids_add_special")) CHECK(t.encode(text, true) == c["ids_add_special"].get<Ids>());
    for (const bool skip : {false, true}) {
      const std::string expected = fixture_text(c[skip ? "decoded_skip_special" : "decoded"]);
      CHECK(t.decode(ids, skip) == expected);
      Detokenizer d(t, skip);
      std::string streamed;
      for (const std::int32_t id : ids) streamed += d.push(id);
      CHECK(streamed + d.finish() == expected);
    }
    ++n;
  }
  CHECK(n == fx["cases"].size());
  CHECK(n > 250);
}

}  // namespace

TEST_CASE("tokenizer: small trained tokenizers with every added-token flag, as Hugging Face") {
  for (const char* name : {"tiny-deepseek-llm", "tiny-deepseek-v3", "tiny-gpt2"}) check_fixture(name);
}

TEST_CASE("tokenizer: the DeepSeek tokenizers on the multilingual corpus, as Hugging Face") {
  for (const char* name : {"deepseek-llm", "deepseek-vl-v1", "deepseek-vl2", "deepseek-vl2-small",
                           "deepseek-v3", "deepseek-coder"})
    check_fixture(name);
}
