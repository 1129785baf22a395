#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "dsvl/io/json.hpp"
#include "dsvl/io/safetensors.hpp"
#include "shared_data.hpp"

namespace {

namespace fs = std::filesystem;
using dsvl::bf16;
using dsvl::DType;
using dsvl::f16;
using dsvl::Tensor;
using dsvl::View;
using dsvl::io::Checkpoint;
using dsvl::io::SafeTensorsFile;
using dsvl::io::SafeTensorsWriter;

// A fresh directory under the system temp directory, removed with everything in it at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("dsvl_safetensors_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// Writes a safetensors file by hand: length prefix (the header's own length unless given), the
// header text, then `data`.
fs::path write_raw(const fs::path& path, const std::string& header, const std::string& data = "",
                   std::optional<std::uint64_t> length = std::nullopt) {
  std::ofstream out(path, std::ios::binary);
  out << le64(length.value_or(header.size())) << header << data;
  return path;
}

void write_bytes(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// The message of the dsvl::Error that f throws; checks that the error names `file`.
std::string error_of(const fs::path& file, auto&& f) {
  try {
    f();
  } catch (const dsvl::Error& e) {
    CHECK(e.where() == file.string());
    return e.problem();
  }
  FAIL("no dsvl::Error thrown");
  return {};
}

// The problem reported when opening a file with this header and data.
std::string open_error(const TempDir& dir, const std::string& header, const std::string& data = "") {
  const fs::path p = write_raw(dir / "bad.safetensors", header, data);
  return error_of(p, [&] { SafeTensorsFile f(p); });
}

template <class T, std::size_t R>
std::vector<T> elements(View<const T, R> v) {
  const auto rows = v.rows();
  std::vector<T> out;
  for (std::int64_t i = 0; i < rows.shape(0); ++i)
    for (std::int64_t j = 0; j < rows.shape(1); ++j) out.push_back(rows(i, j));
  return out;
}


}  // namespace

TEST_CASE("safetensors: round trip of every dtype, with metadata") {
  TempDir dir;
  Tensor<float, 2> a({2, 3});
  Tensor<bf16, 1> b({5});
  Tensor<f16, 3> c({2, 1, 2});
  Tensor<std::int64_t, 1> d({3});
  Tensor<std::int32_t, 2> e({2, 2});
  for (int i = 0; i < 6; ++i) a.data()[i] = 0.5f * static_cast<float>(i) - 1.0f;
  for (int i = 0; i < 5; ++i) b.data()[i] = bf16::from_float(static_cast<float>(i) * 1.5f);
  for (int i = 0; i < 4; ++i) c.data()[i] = f16::from_float(static_cast<float>(-i) * 0.25f);
  for (int i = 0; i < 3; ++i) d.data()[i] = (std::int64_t{1} << 40) + i;
  for (int i = 0; i < 4; ++i) e.data()[i] = -7 * i;

  SafeTensorsWriter w;
  w.add("b.bf16", b);  // 10 bytes: would misalign what follows if laid out in add() order
  w.add("a.f32", a);
  w.add("c.f16", c);
  w.add("d.i64", d);
  w.add("e.i32", e.view());
  w.set_metadata("format", "pt");
  w.set_metadata("note", "ünïcode");
  const fs::path p = dir / "all.safetensors";
  w.write(p);

  // The header is padded to a multiple of 8.
  std::ifstream in(p, std::ios::binary);
  std::string prefix(8, '\0');
  in.read(prefix.data(), 8);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(prefix[static_cast<std::size_t>(i)]);
  CHECK(n % 8 == 0);

  const SafeTensorsFile f(p);
  CHECK(f.path() == p);
  CHECK(f.size() == 5);
  CHECK(f.metadata() == std::map<std::string, std::string>{{"format", "pt"}, {"note", "ünïcode"}});
  // Layout by decreasing element size, add() order within one size.
  CHECK(f.names() == std::vector<std::string_view>{"d.i64", "a.f32", "e.i32", "b.bf16", "c.f16"});
  CHECK(f.contains("a.f32"));
  CHECK_FALSE(f.contains("a"));

  const auto& ia = f.info("a.f32");
  CHECK(ia.name == "a.f32");
  CHECK(ia.dtype == DType::f32);
  CHECK(ia.shape == std::vector<std::int64_t>{2, 3});
  CHECK(ia.numel() == 6);
  CHECK(ia.rank() == 2);
  CHECK(ia.bytes.size() == 24);
  CHECK(ia.file == p);

  const auto va = f.view<float, 2>("a.f32");
  CHECK(va.shape() == std::array<std::int64_t, 2>{2, 3});
  CHECK(elements(va) == std::vector<float>(a.data(), a.data() + 6));
  CHECK(elements(f.view<bf16, 1>("b.bf16")) == std::vector<bf16>(b.data(), b.data() + 5));
  CHECK(elements(f.view<f16, 3>("c.f16")) == std::vector<f16>(c.data(), c.data() + 4));
  CHECK(elements(f.view<std::int64_t, 1>("d.i64")) == std::vector<std::int64_t>(d.data(), d.data() + 3));
  CHECK(elements(f.view<std::int32_t, 2>("e.i32")) == std::vector<std::int32_t>(e.data(), e.data() + 4));
  // The view points into the mapping: no copy.
  CHECK(static_cast<const void*>(f.view<float, 2>("a.f32").data()) == static_cast<const void*>(ia.bytes.data()));

  const auto fb = dsvl::io::read_f32<1>(f.info("b.bf16"));
  const auto fc = dsvl::io::read_f32<3>(f.info("c.f16"));
  const auto fa = dsvl::io::read_f32<2>(f.info("a.f32"));
  for (int i = 0; i < 5; ++i) CHECK(fb.data()[i] == static_cast<float>(i) * 1.5f);
  for (int i = 0; i < 4; ++i) CHECK(fc.data()[i] == static_cast<float>(-i) * 0.25f);
  for (int i = 0; i < 6; ++i) CHECK(fa.data()[i] == a.data()[i]);
  CHECK(fc.shape() == std::array<std::int64_t, 3>{2, 1, 2});
}

TEST_CASE("safetensors: strided views are written in row-major order") {
  TempDir dir;
  Tensor<float, 2> m({3, 4});
  for (int i = 0; i < 12; ++i) m.data()[i] = static_cast<float>(i);
  const View<const float, 2> transposed(m.data(), {4, 3}, {1, 4});                // (4, 3)
  const View<const float, 2> cols = m.view().slice(1, 1, 3);                      // (3, 2)
  const View<const float, 3> gapped(m.data(), {2, 2, 2}, {8, 1, 2});              // (2, 2, 2), inner stride 2
  const View<const float, 1> every_other(m.data(), std::array<std::int64_t, 1>{6}, {2});  // (6)

  SafeTensorsWriter w;
  w.add("t", transposed);
  w.add("c", cols);
  w.add("g", gapped);
  w.add("e", every_other);
  w.write(dir / "s.safetensors");
  const SafeTensorsFile f(dir / "s.safetensors");
  CHECK(elements(f.view<float, 2>("t")) == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(elements(f.view<float, 2>("c")) == std::vector<float>{1, 2, 5, 6, 9, 10});
  CHECK(elements(f.view<float, 3>("g")) == std::vector<float>{0, 2, 1, 3, 8, 10, 9, 11});
  CHECK(elements(f.view<float, 1>("e")) == std::vector<float>{0, 2, 4, 6, 8, 10});
}

TEST_CASE("safetensors: empty tensors and scalars") {
  TempDir dir;
  SafeTensorsWriter w;
  w.add("empty", Tensor<float, 2>({0, 5}));
  w.add("empty2", Tensor<bf16, 3>({3, 0, 2}));
  w.add("one", Tensor<float, 1>({1}));
  w.write(dir / "e.safetensors");
  const SafeTensorsFile f(dir / "e.safetensors");
  CHECK(f.info("empty").numel() == 0);
  CHECK(f.info("empty").bytes.empty());
  CHECK(f.view<float, 2>("empty").shape() == std::array<std::int64_t, 2>{0, 5});
  CHECK(f.view<bf16, 3>("empty2").empty());
  CHECK(dsvl::io::read_f32<3>(f.info("empty2")).size() == 0);

  // A scalar (shape []) is rank 0 with one element, read as shape {1}. Only a hand-written file
  // has one (the writer takes views, of rank >= 1). An empty tensor may sit anywhere.
  float v = 2.5f;
  std::string data(4, '\0');
  std::memcpy(data.data(), &v, 4);
  std::string header = R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                       R"("z":{"dtype":"F32","shape":[0],"data_offsets":[3,3]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const auto p = write_raw(dir / "scalar.safetensors", header, data);
  const SafeTensorsFile s(p);
  CHECK(s.info("s").rank() == 0);
  CHECK(s.info("s").numel() == 1);
  CHECK(s.view<float, 1>("s").shape(0) == 1);
  CHECK(s.view<float, 1>("s")(0) == 2.5f);
  CHECK(dsvl::io::read_f32<1>(s.info("s")).data()[0] == 2.5f);
  CHECK(s.view<float, 1>("z").empty());
  CHECK(error_of(p, [&] { s.view<float, 2>("s"); }) == "tensor 's': rank is 0 (shape []), expected rank 2");
}

TEST_CASE("safetensors: unaligned data is refused by view, read by read_f32") {
  TempDir dir;
  // One BF16 element at [0, 2), then an F32 pair at [2, 10): the F32 data is 2 bytes off.
  const float vals[2] = {1.25f, -3.0f};
  std::string data(10, '\0');
  const std::uint16_t one = bf16::from_float(7.0f).bits;
  std::memcpy(data.data(), &one, 2);
  std::memcpy(data.data() + 2, vals, 8);
  std::string header = R"({"h":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},)"
                       R"("f":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const auto p = write_raw(dir / "u.safetensors", header, data);
  const SafeTensorsFile f(p);
  CHECK(f.names() == std::vector<std::string_view>{"h", "f"});
  CHECK(f.view<bf16, 1>("h")(0) == bf16::from_float(7.0f));
  CHECK(error_of(p, [&] { f.view<float, 1>("f"); }) ==
        "tensor 'f': data is not aligned to 4 bytes, so it cannot be viewed as F32 in place (read_f32 copies it)");
  const auto t = dsvl::io::read_f32<1>(f.info("f"));
  CHECK(t.data()[0] == 1.25f);
  CHECK(t.data()[1] == -3.0f);
}

TEST_CASE("safetensors: a moved file keeps its mapping") {
  TempDir dir;
  Tensor<float, 1> a({4});
  a.data()[3] = 9.0f;
  SafeTensorsWriter w;
  w.add("a", a);
  w.write(dir / "m.safetensors");
  SafeTensorsFile f(dir / "m.safetensors");
  const auto v = f.view<float, 1>("a");
  const SafeTensorsFile g = std::move(f);
  CHECK(v(3) == 9.0f);
  CHECK(g.view<float, 1>("a").data() == v.data());
}

TEST_CASE("safetensors: access errors name the file and the tensor") {
  TempDir dir;
  SafeTensorsWriter w;
  w.add("w", Tensor<bf16, 2>({2, 3}));
  w.add("ids", Tensor<std::int64_t, 1>({2}));
  const fs::path p = dir / "x.safetensors";
  w.write(p);
  const SafeTensorsFile f(p);
  CHECK(error_of(p, [&] { f.info("nope"); }) == "no tensor 'nope' (the file holds 2 tensors)");
  CHECK(error_of(p, [&] { f.view<float, 2>("w"); }) == "tensor 'w': dtype is BF16, expected F32");
  CHECK(error_of(p, [&] { f.view<bf16, 3>("w"); }) == "tensor 'w': rank is 2 (shape [2, 3]), expected rank 3");
  CHECK(error_of(p, [&] { dsvl::io::read_f32<1>(f.info("ids")); }) ==
        "tensor 'ids': dtype is I64; read_f32 reads F32, BF16 or F16");
  CHECK(error_of(p, [&] { dsvl::io::read_f32<1>(f.info("w")); }) ==
        "tensor 'w': rank is 2 (shape [2, 3]), expected rank 1");
}

TEST_CASE("safetensors: writer errors") {
  SafeTensorsWriter w;
  w.add("a", Tensor<float, 1>({1}));
  CHECK_THROWS_WITH_AS(w.add("a", Tensor<float, 1>({1})), "SafeTensorsWriter: duplicate tensor 'a'", dsvl::Error);
  CHECK_THROWS_WITH_AS(w.add("__metadata__", Tensor<float, 1>({1})),
                       "SafeTensorsWriter: \"__metadata__\" cannot name a tensor", dsvl::Error);
  TempDir dir;
  const fs::path p = dir / "no_such_dir" / "a.safetensors";
  CHECK(error_of(p, [&] { w.write(p); }) == "cannot create a file beside it: No such file or directory");
  SafeTensorsWriter bad;
  bad.add("\xff", Tensor<float, 1>({1}));
  CHECK(error_of(dir / "b.safetensors", [&] { bad.write(dir / "b.safetensors"); }).find("cannot write the header") == 0);
}

TEST_CASE("safetensors: the file itself is broken") {
  TempDir dir;
  const fs::path missing = dir / "missing.safetensors";
  CHECK(error_of(missing, [&] { SafeTensorsFile f(missing); }) == "cannot open: No such file or directory");
  CHECK(error_of(dir.path, [&] { SafeTensorsFile f(dir.path); }) == "not a regular file");

  const fs::path empty = dir / "empty.safetensors";
  write_bytes(empty, "");
  CHECK(error_of(empty, [&] { SafeTensorsFile f(empty); }) == "file is 0 bytes, shorter than the 8-byte header length");
  const fs::path short5 = dir / "short.safetensors";
  write_bytes(short5, std::string("\x02\0\0\0\0", 5));
  CHECK(error_of(short5, [&] { SafeTensorsFile f(short5); }) == "file is 5 bytes, shorter than the 8-byte header length");

  const fs::path past = write_raw(dir / "past.safetensors", "{}", "", 1000);
  CHECK(error_of(past, [&] { SafeTensorsFile f(past); }) ==
        "not a safetensors file, or a truncated one: the header length 1000 runs past the end of the file (10 bytes)");
  // Another file's first bytes are no length: the message gives no number for them.
  const std::string not_safetensors =
      "not a safetensors file: its first 8 bytes, read as the header length, give more than 100000000 bytes";
  const fs::path huge = write_raw(dir / "huge.safetensors", "{}", "", std::uint64_t{1} << 63);
  CHECK(error_of(huge, [&] { SafeTensorsFile f(huge); }) == not_safetensors);
  const fs::path all_ones = write_raw(dir / "ones.safetensors", "{}", "", ~std::uint64_t{0});
  CHECK(error_of(all_ones, [&] { SafeTensorsFile f(all_ones); }) == not_safetensors);
  const fs::path text = dir / "config.json";
  write_bytes(text, "{\n  \"architectures\": [\"MultiModalityCausalLM\"]\n}\n" + std::string(100, ' '));
  CHECK(error_of(text, [&] { SafeTensorsFile f(text); }) == not_safetensors);
  // A header over the bound is refused even when the file is that long (a sparse file).
  const fs::path big = write_raw(dir / "big.safetensors", "{}", "", 100'000'001);
  fs::resize_file(big, 100'000'100);
  CHECK(error_of(big, [&] { SafeTensorsFile f(big); }) == not_safetensors);
  const fs::path zero = write_raw(dir / "zero.safetensors", "", "");
  CHECK(error_of(zero, [&] { SafeTensorsFile f(zero); }).find("invalid JSON: parse error at line 1, column 1") == 0);

  // A well-formed file with no tensors is fine.
  const SafeTensorsFile none(write_raw(dir / "none.safetensors", "{}      "));
  CHECK(none.size() == 0);
  CHECK(none.names().empty());
}

TEST_CASE("safetensors: broken headers") {
  TempDir dir;
  const std::string d8(8, '\0');
  CHECK(open_error(dir, R"({"a": {"dtype": "F32",)").find("invalid JSON: parse error at line 1, column 23") == 0);
  CHECK(open_error(dir, "{\"a\": \"\xff\"}").find("invalid JSON: parse error") == 0);  // not UTF-8
  CHECK(open_error(dir, "[1, 2]") == "header is an array, expected a JSON object");
  CHECK(open_error(dir, "7") == "header is an integer, expected a JSON object");
  CHECK(open_error(dir, R"({"a": [1]})") == "tensor 'a': header entry is an array, expected an object");
  CHECK(open_error(dir, R"({"a": {"shape": [2], "data_offsets": [0, 8]}})", d8) ==
        "tensor 'a': header entry has no \"dtype\"");
  CHECK(open_error(dir, R"({"a": {"dtype": "F32", "data_offsets": [0, 8]}})", d8) ==
        "tensor 'a': header entry has no \"shape\"");
  CHECK(open_error(dir, R"({"a": {"dtype": "F32", "shape": [2]}})", d8) ==
        "tensor 'a': header entry has no \"data_offsets\"");
  CHECK(open_error(dir, R"({"a": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})", d8) ==
        "tensor 'a': \"dtype\" is an integer, expected a string");
  CHECK(open_error(dir, R"({"a": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})", d8) ==
        "tensor 'a': \"shape\" is an integer, expected an array");
  CHECK(open_error(dir, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": {"b": 0}}})", d8) ==
        "tensor 'a': \"data_offsets\" is {\"b\":0}, expected [begin, end]");
  CHECK(open_error(dir, R"({"__metadata__": [1]})") == "\"__metadata__\" is an array, expected an object");
  CHECK(open_error(dir, R"({"__metadata__": {"k": 1}})") == "\"__metadata__\" value of 'k' is an integer, expected a string");
}

TEST_CASE("safetensors: unsupported dtypes are rejected at open, naming the tensor") {
  TempDir dir;
  for (const char* dt : {"F64", "U16", "BOOL", "F8_E4M3", "bf16", ""}) {
    CAPTURE(dt);
    const std::string header =
        std::string(R"({"ok": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "odd": {"dtype": ")") + dt +
        R"(", "shape": [1], "data_offsets": [4, 5]}})";
    CHECK(open_error(dir, header, std::string(5, '\0')) ==
          std::string("tensor 'odd': unsupported dtype '") + dt + "' (supported: F32, BF16, F16, I64, I32, U8)");
  }
}

TEST_CASE("safetensors: bad shapes") {
  TempDir dir;
  const std::string d8(8, '\0');
  const auto entry = [](const std::string& shape, const std::string& offsets = "[0, 8]") {
    return R"({"a": {"dtype": "F32", "shape": )" + shape + R"(, "data_offsets": )" + offsets + "}}";
  };
  CHECK(open_error(dir, entry("[2, -1]"), d8) == "tensor 'a': shape [2,-1] has a negative or too large extent -1");
  CHECK(open_error(dir, entry("[2.5]"), d8) == "tensor 'a': shape [2.5] has an extent that is a non-integer number, expected an integer");
  CHECK(open_error(dir, entry("[2.0]"), d8) == "tensor 'a': shape [2.0] has an extent that is a non-integer number, expected an integer");
  CHECK(open_error(dir, entry(R"(["2"])"), d8) == "tensor 'a': shape [\"2\"] has an extent that is a string, expected an integer");
  CHECK(open_error(dir, entry("[9223372036854775808]"), d8) ==
        "tensor 'a': shape [9223372036854775808] has a negative or too large extent 9223372036854775808");
  CHECK(open_error(dir, entry("[4611686018427387904, 4]"), d8) ==
        "tensor 'a': shape [4611686018427387904,4] has too many elements");
  CHECK(open_error(dir, entry("[2305843009213693952]"), d8) == "tensor 'a': shape [2305843009213693952] has too many elements");
  // Zero elements, but strides of the other extents would overflow.
  CHECK(open_error(dir, entry("[0, 4611686018427387904, 4]", "[0, 0]"), d8) ==
        "tensor 'a': shape [0,4611686018427387904,4] has too many elements");
}

TEST_CASE("safetensors: bad data offsets") {
  TempDir dir;
  const std::string d8(8, '\0');
  const auto entry = [](const std::string& offsets, const std::string& shape = "[2]") {
    return R"({"a": {"dtype": "F32", "shape": )" + shape + R"(, "data_offsets": )" + offsets + "}}";
  };
  CHECK(open_error(dir, entry("[0, 8, 16]"), d8) == "tensor 'a': \"data_offsets\" is [0,8,16], expected [begin, end]");
  CHECK(open_error(dir, entry("[-8, 0]"), d8) == "tensor 'a': \"data_offsets\" [-8,0] are not two non-negative integers");
  CHECK(open_error(dir, entry("[0, 8.0]"), d8) == "tensor 'a': \"data_offsets\" [0,8.0] are not two non-negative integers");
  CHECK(open_error(dir, entry("[8, 0]"), d8) == "tensor 'a': data_offsets [8,0] have begin after end");
  CHECK(open_error(dir, entry("[8, 16]"), d8) == "tensor 'a': data_offsets [8,16] run past the data region (8 bytes)");
  CHECK(open_error(dir, entry("[0, 18446744073709551615]"), d8) ==
        "tensor 'a': \"data_offsets\" [0,18446744073709551615] are not two non-negative integers");
  CHECK(open_error(dir, entry("[0, 4]"), d8) == "tensor 'a': data_offsets [0,4] span 4 bytes, but F32 shape [2] needs 8 bytes");
  CHECK(open_error(dir, entry("[0, 8]", "[1]"), d8) == "tensor 'a': data_offsets [0,8] span 8 bytes, but F32 shape [1] needs 4 bytes");

  // Overlap, in whichever order the header lists the tensors.
  const std::string two = R"({"z": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                          R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})";
  CHECK(open_error(dir, two, std::string(12, '\0')) == "tensors 'z' (bytes [0, 8)) and 'b' (bytes [4, 12)) overlap");
  const std::string inside = R"({"big": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
                             R"( "in": {"dtype": "BF16", "shape": [1], "data_offsets": [4, 6]},)"
                             R"( "after": {"dtype": "BF16", "shape": [2], "data_offsets": [10, 14]}})";
  CHECK(open_error(dir, inside, std::string(16, '\0')) == "tensors 'big' (bytes [0, 16)) and 'in' (bytes [4, 6)) overlap");
  // Gaps and trailing bytes are accepted; empty tensors overlap nothing.
  const std::string gap = R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},)"
                          R"( "e": {"dtype": "F32", "shape": [0], "data_offsets": [6, 6]}})";
  const SafeTensorsFile f(write_raw(dir / "gap.safetensors", gap, std::string(12, '\0')));
  CHECK(f.names() == std::vector<std::string_view>{"a", "e"});
}

TEST_CASE("safetensors: duplicate tensor names are caught") {
  TempDir dir;
  const std::string dup = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                          R"( "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})";
  CHECK(open_error(dir, dup, std::string(8, '\0')) == "invalid JSON: duplicate key \"w\" in object /");
  const std::string dup_field = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "dtype": "F32"}})";
  CHECK(open_error(dir, dup_field, std::string(4, '\0')) == "invalid JSON: duplicate key \"dtype\" in object /w");
  const std::string dup_meta = R"({"__metadata__": {"a": "1", "a": "2"}})";
  CHECK(open_error(dir, dup_meta) == "invalid JSON: duplicate key \"a\" in object /__metadata__");
}

TEST_CASE("checkpoint: a single file, or a directory with model.safetensors") {
  TempDir dir;
  Tensor<float, 1> a({3});
  a.data()[1] = 4.0f;
  SafeTensorsWriter w;
  w.add("a", a);
  w.add("b", Tensor<bf16, 2>({2, 2}));
  w.write(dir / "model.safetensors");
  for (const fs::path& p : {dir / "model.safetensors", dir.path}) {
    const Checkpoint c = Checkpoint::open(p);
    CHECK(c.path() == p);
    CHECK(c.files().size() == 1);
    CHECK(c.size() == 2);
    CHECK(c.names() == std::vector<std::string_view>{"a", "b"});
    CHECK(c.view<float, 1>("a")(1) == 4.0f);
    CHECK(c.info("b").dtype == DType::bf16);
    CHECK(error_of(p, [&] { c.info("c"); }) == "no tensor 'c' (the checkpoint holds 2 tensors)");
  }
  CHECK(error_of(dir / "nothing", [&] { Checkpoint::open(dir / "nothing"); }) == "no such file or directory");
  TempDir empty;
  CHECK(error_of(empty.path, [&] { Checkpoint::open(empty.path); }) ==
        "directory holds neither model.safetensors nor model.safetensors.index.json");
}

TEST_CASE("checkpoint: sharded, through model.safetensors.index.json") {
  TempDir dir;
  Tensor<float, 2> x({2, 2});
  Tensor<bf16, 1> y({3});
  x.data()[3] = 1.5f;
  y.data()[2] = bf16::from_float(-2.0f);
  SafeTensorsWriter s1, s2;
  s1.add("layers.0.w", x);
  s1.add("extra.not_in_index", Tensor<float, 1>({1}));
  s2.add("layers.1.w", y);
  s2.add("layers.1.b", Tensor<std::int32_t, 1>({2}));
  s1.write(dir / "model-00001-of-00002.safetensors");
  s2.write(dir / "model-00002-of-00002.safetensors");
  const std::string index = R"({"metadata": {"total_size": 30}, "weight_map": {
      "layers.1.w": "model-00002-of-00002.safetensors",
      "layers.0.w": "model-00001-of-00002.safetensors",
      "layers.1.b": "model-00002-of-00002.safetensors"}})";
  write_bytes(dir / "model.safetensors.index.json", index);

  for (const fs::path& p : {dir.path, dir / "model.safetensors.index.json"}) {
    const Checkpoint c = Checkpoint::open(p);
    CHECK(c.files().size() == 2);
    CHECK(c.files()[1].path() == dir / "model-00002-of-00002.safetensors");
    CHECK(c.size() == 3);
    CHECK(c.names() == std::vector<std::string_view>{"layers.0.w", "layers.1.b", "layers.1.w"});
    CHECK_FALSE(c.contains("extra.not_in_index"));
    CHECK(c.view<float, 2>("layers.0.w")(1, 1) == 1.5f);
    CHECK(c.view<bf16, 1>("layers.1.w")(2).to_float() == -2.0f);
    CHECK(c.info("layers.1.w").file == dir / "model-00002-of-00002.safetensors");
    CHECK(dsvl::io::read_f32<1>(c.info("layers.1.w")).data()[2] == -2.0f);
  }

  const auto index_error = [&](const std::string& text) {
    const fs::path p = dir / "bad.index.json";
    write_bytes(p, text);
    return error_of(p, [&] { Checkpoint::open(p); });
  };
  CHECK(index_error(R"({"metadata": {}})") == "missing field 'weight_map'");
  CHECK(index_error(R"({"weight_map": []})") == "field 'weight_map' is an array, expected an object");
  CHECK(index_error(R"([])") == "index is an array, expected a JSON object");
  CHECK(index_error(R"({"weight_map": {"a": 1}})") == "weight_map entry 'a' is an integer, expected a shard file name");
  for (const char* outside : {"/etc/x.safetensors", "../x.safetensors", "../../../../etc/passwd", "a/../../x"}) {
    CAPTURE(outside);
    CHECK(index_error(R"({"weight_map": {"a": ")" + std::string(outside) + "\"}}") ==
          "weight_map entry 'a' names shard \"" + std::string(outside) +
              "\", expected a relative file name inside the model folder");
  }
  CHECK(index_error(R"({"weight_map": {"a": "a.safetensors", "a": "b.safetensors"}})") ==
        "invalid JSON: duplicate key \"a\" in object /weight_map");
  CHECK(index_error(R"({"weight_map": {"layers.0.w": "model-00001-of-00002.safetensors", "q": "gone.safetensors"}})") ==
        "shard 'gone.safetensors' (holding tensor 'q') does not exist: " + (dir / "gone.safetensors").string());
  CHECK(index_error(R"({"weight_map": {"layers.1.w": "model-00001-of-00002.safetensors"}})") ==
        "tensor 'layers.1.w' is mapped to shard 'model-00001-of-00002.safetensors', which does not contain it");
  // A broken shard reports itself.
  write_bytes(dir / "model-00002-of-00002.safetensors", "xx");
  const fs::path shard2 = dir / "model-00002-of-00002.safetensors";
  CHECK(error_of(shard2, [&] { Checkpoint::open(dir.path); }) == "file is 2 bytes, shorter than the 8-byte header length");
}

TEST_CASE("checkpoint: symlinked files, as in the Hugging Face cache") {
  // <repo>/snapshots/<revision>/<file> -> ../../blobs/<hash>
  TempDir dir;
  const fs::path repo = dir / "models--deepseek-ai--deepseek-vl2-tiny", snapshot = repo / "snapshots" / "abc123";
  fs::create_directories(repo / "blobs");
  fs::create_directories(snapshot);
  SafeTensorsWriter w;
  w.add("a", Tensor<float, 1>({2}));
  w.write(repo / "blobs" / "1234");
  write_bytes(repo / "blobs" / "5678", R"({"weight_map": {"a": "model-00001-of-000001.safetensors"}})");
  fs::create_symlink("../../blobs/1234", snapshot / "model-00001-of-000001.safetensors");
  fs::create_symlink("../../blobs/5678", snapshot / "model.safetensors.index.json");
  const Checkpoint c = Checkpoint::open(snapshot);
  CHECK(c.names() == std::vector<std::string_view>{"a"});
  CHECK(c.view<float, 1>("a").shape(0) == 2);
}

TEST_CASE("checkpoint: a shard that a symlink takes outside the model folder is refused unopened") {
  TempDir dir;
  const fs::path model = dir / "model", elsewhere = dir / "elsewhere";
  fs::create_directories(model);
  fs::create_directories(elsewhere);
  SafeTensorsWriter w;
  w.add("a", Tensor<float, 1>({2}));
  w.write(elsewhere / "secret.safetensors");
  w.write(model / "inside.safetensors");
  fs::create_symlink("../elsewhere/secret.safetensors", model / "link.safetensors");
  fs::create_symlink(elsewhere, model / "sub");
  fs::create_symlink("inside.safetensors", model / "alias.safetensors");
  const fs::path index = model / "model.safetensors.index.json";
  const auto index_error = [&](const std::string& shard) {
    write_bytes(index, R"({"weight_map": {"a": ")" + shard + "\"}}");
    return error_of(index, [&] { Checkpoint::open(model); });
  };
  for (const char* shard : {"link.safetensors", "sub/secret.safetensors"}) {
    CAPTURE(shard);
    CHECK(index_error(shard) ==
          "weight_map entry 'a' names shard \"" + std::string(shard) + "\", which resolves outside the model folder");
  }
  // Checked before any shard is opened: an outside shard listed after a broken one is still named.
  write_bytes(model / "a-broken.safetensors", "xx");
  write_bytes(index, R"({"weight_map": {"a": "a-broken.safetensors", "b": "link.safetensors"}})");
  CHECK(error_of(index, [&] { Checkpoint::open(model); }) ==
        "weight_map entry 'b' names shard \"link.safetensors\", which resolves outside the model folder");
  // A link that stays inside is fine.
  write_bytes(index, R"({"weight_map": {"a": "alias.safetensors"}})");
  CHECK(Checkpoint::open(model).names() == std::vector<std::string_view>{"a"});
}

TEST_CASE("checkpoint: the real DeepSeek-VL2 index") {
  const fs::path p = dsvl::test::shared_data("tokenizers/deepseek-vl2/model.safetensors.index.json");
  if (p.empty()) {
    MESSAGE("skipped: no shared data in " << dsvl::test::shared_data_dir().string()
                                          << " (set DSVL_SHARED_DATA)");
    return;
  }
  const auto map = dsvl::io::read_safetensors_index(p);
  const auto j = dsvl::io::read_json(p);
  CHECK(map.size() == j["weight_map"].size());
  CHECK(map.size() == 6973);
  std::set<std::string> shards;
  for (const auto& [name, shard] : map) shards.insert(shard);
  CHECK(shards.size() == 8);
  CHECK(shards.count("model-00001-of-000008.safetensors") == 1);
  CHECK(map.at("vision.pos_embed") == "model-00001-of-000008.safetensors");
  for (const char* name : {"language.model.embed_tokens.weight", "language.lm_head.weight", "language.model.norm.weight",
                           "image_newline", "view_seperator", "projector.layers.0.weight", "projector.layers.2.bias",
                           "vision.attn_pool.latent", "language.model.layers.29.mlp.experts.71.down_proj.weight",
                           "language.model.layers.1.mlp.gate.e_score_correction_bias",
                           "language.model.layers.0.self_attn.kv_b_proj.weight"}) {
    CAPTURE(name);
    CHECK(map.count(name) == 1);
  }
  // Opening it fails on the first shard, which is not there.
  const std::string msg = error_of(p, [&] { Checkpoint::open(p); });
  CHECK(msg.find("shard 'model-00001-of-000008.safetensors' (holding tensor '") == 0);
}
