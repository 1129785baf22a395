// Decoding PNG and JPEG against Pillow (tools/reference/preprocess_v1.py), and the errors; writing PNG.
#if defined(DSVL_WITH_IMAGE)
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "dsvl/io/image.hpp"
#include "vision/preprocess_fixture.hpp"

using namespace dsvl;
using dsvl::test::PreprocessFixture;

namespace {

std::vector<std::uint8_t> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("read_image equals PIL.Image.open(path).convert(\"RGB\") for every PNG and JPEG kind") {
  const auto& fx = PreprocessFixture::get();
  int stored = 0, n_jpeg = 0;
  double max_diff = 0;
  for (const auto& c : fx.cases.at("decode")) {
    const std::string file = c["file"];
    CAPTURE(file);
    CAPTURE(c["what"].get<std::string>());
    const auto img = io::read_image(test::test_data(file));
    REQUIRE(img.shape() == Tensor<std::uint8_t, 3>::Shape{c["h"], c["w"], 3});
    const auto n = static_cast<std::size_t>(img.size());
    if (const std::uint8_t* want = fx.stored(c, n)) {
      const auto d = test::difference(img.data(), want, img.size());
      CHECK_MESSAGE(d.count == 0, d.count, " bytes differ, by up to ", d.max);
      max_diff = std::max(max_diff, d.max);
      ++stored;
    }
    CHECK(test::crc32(img.data(), n) == c["crc32"].get<std::uint32_t>());
    n_jpeg += file.ends_with(".jpg");
  }
  MESSAGE(fx.cases.at("decode").size(), " images (", n_jpeg, " JPEG; Pillow ", fx.cases["pillow"].get<std::string>(),
          " with libjpeg-turbo ", fx.cases["libjpeg_turbo"].get<std::string>(), "; dsvl with ", io::image_libraries(),
          "); ", stored, " compared whole; largest difference ", max_diff);
  CHECK(stored >= 30);
}

TEST_CASE("decode_image reads bytes in memory as read_image reads the file") {
  for (const char* name : {"images/rgb8.png", "images/progressive.jpg", "images/interlaced_rgba16.png"}) {
    CAPTURE(std::string(name));
    const auto path = test::test_data(name);
    const auto a = io::read_image(path);
    const auto bytes = file_bytes(path);
    const auto b = io::decode_image(bytes, "memory");
    REQUIRE(a.shape() == b.shape());
    CHECK(std::equal(a.data(), a.data() + a.size(), b.data()));
  }
}

TEST_CASE("read_image: each broken or unsupported file is a dsvl::Error naming the file") {
  const std::map<std::string, std::string> expect = {
      {"images/empty.png", "empty"},
      {"images/not_an_image.png", "not a PNG or JPEG image"},
      {"images/truncated.png", "truncated PNG"},
      {"images/header_only.png", "truncated PNG"},
      {"images/truncated.jpg", "truncated JPEG"},
      {"images/truncated_progressive.jpg", "truncated JPEG"},
      {"images/no_eoi.jpg", "truncated JPEG"},
      {"images/garbage.jpg", "JPEG"},
      {"images/bad_crc.png", "CRC"},
      {"images/zero_width.png", "the PNG image is empty (0x1)"},
      {"images/zero_height.jpg", "Empty JPEG image"},
      {"images/huge.png", "100000x100000 = 10000000000 pixels, over the limit of 178956970"},
      {"images/huge.jpg", "60000x60000 = 3600000000 pixels, over the limit"},
      {"images/image.gif", "GIF images are not supported"},
      {"images/image.bmp", "BMP images are not supported"},
      {"images/image.webp", "WebP images are not supported"},
  };
  const auto& fx = PreprocessFixture::get();
  CHECK(fx.cases.at("errors").size() == expect.size());
  for (const auto& c : fx.cases.at("errors")) {
    const std::string file = c["file"];
    CAPTURE(file);
    CAPTURE(c["pillow"].get<std::string>());
    REQUIRE(expect.count(file) == 1);
    const auto path = test::test_data(file);
    try {
      (void)io::read_image(path);
      FAIL("no error");
    } catch (const dsvl::Error& e) {
      CHECK(e.where() == path.string());
      CHECK_MESSAGE(e.problem().find(expect.at(file)) != std::string::npos, std::string(e.what()));
    }
  }
  const auto missing = test::test_data("images/no_such_file.png");
  CHECK_THROWS_WITH_AS(io::read_image(missing), doctest::Contains("no_such_file.png: cannot open image file"),
                       dsvl::Error);
  CHECK_THROWS_WITH_AS(io::read_image(test::test_data("images")), doctest::Contains("is a directory"), dsvl::Error);
}

TEST_CASE("ImageReadOptions::max_pixels is checked before decoding") {
  io::ImageReadOptions small;
  small.max_pixels = 160 * 120 - 1;
  for (const char* name : {"images/photo.png", "images/photo.jpg"}) {
    CAPTURE(std::string(name));
    CHECK_THROWS_WITH_AS(io::read_image(test::test_data(name), small), doctest::Contains("19200 pixels, over the limit of 19199"),
                         dsvl::Error);
    small.max_pixels = 160 * 120;
    CHECK(io::read_image(test::test_data(name), small).shape(1) == 160);
    small.max_pixels = 160 * 120 - 1;
  }
}

// Every prefix and many one-byte corruptions of PNG and JPEG files: each either decodes to some
// image or is a dsvl::Error naming the data; none may crash or leak (run under AddressSanitizer).
TEST_CASE("damaged PNG and JPEG data never crash the decoders") {
  for (const char* name : {"images/rgb8.png", "images/interlaced_rgb8.png", "images/q90_420.jpg", "images/progressive.jpg",
                           "images/cmyk.jpg"}) {
    CAPTURE(std::string(name));
    const auto bytes = file_bytes(test::test_data(name));
    int errors = 0, decoded = 0;
    const auto attempt = [&](std::span<const std::uint8_t> data) {
      try {
        const auto img = io::decode_image(data, name);
        CHECK(img.size() > 0);
        ++decoded;
      } catch (const dsvl::Error& e) {
        CHECK(e.where() == name);
        ++errors;
      }
    };
    for (std::size_t len = 0; len < bytes.size(); ++len) attempt(std::span(bytes.data(), len));
    std::vector<std::uint8_t> bad = bytes;
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
      for (std::uint8_t flip : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xFF}}) {
        bad[i] = static_cast<std::uint8_t>(bytes[i] ^ flip);
        attempt(bad);
      }
      bad[i] = bytes[i];
    }
    MESSAGE(std::string(name), ": ", errors, " errors, ", decoded, " decoded");
    CHECK(errors > 0);
  }
}

// ---- writing PNG -------------------------------------------------------------------------------

namespace {

// A fresh path under the system's temporary directory, removed when the test ends.
struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("dsvl_image_test_" + std::to_string(::getpid()) + "_" + name)) {}
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

Tensor<std::uint8_t, 3> pattern(std::int64_t h, std::int64_t w) {
  Tensor<std::uint8_t, 3> t({h, w, 3});
  std::uint32_t x = 12345;
  for (std::int64_t i = 0; i < t.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    t.data()[i] = static_cast<std::uint8_t>(x >> 24);
  }
  return t;
}

}  // namespace

TEST_CASE("write_png then read_image gives the same pixels") {
  for (const auto& size : std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {7, 13}, {64, 3}, {120, 161}}) {
    const std::int64_t h = size.first, w = size.second;
    CAPTURE(h);
    CAPTURE(w);
    const auto img = pattern(h, w);
    TempFile f("roundtrip.png");
    io::write_png(f.path, img.view());
    const auto back = io::read_image(f.path);
    REQUIRE(back.shape() == img.shape());
    CHECK(std::equal(img.data(), img.data() + img.size(), back.data()));
    // encode_png gives the file's bytes; decode_image reads them.
    const auto bytes = io::encode_png(img.view());
    CHECK(bytes == file_bytes(f.path));
    const auto mem = io::decode_image(bytes, "memory");
    CHECK(std::equal(img.data(), img.data() + img.size(), mem.data()));
  }
  // A strided view (a window of a larger image) is written as its own pixels; a file is replaced.
  const auto big = pattern(20, 30);
  const View<const std::uint8_t, 3> window = big.view().slice(0, 3, 15).slice(1, 5, 26);  // (12, 21, 3)
  TempFile f("window.png");
  io::write_png(f.path, big.view());
  io::write_png(f.path, window);
  const auto back = io::read_image(f.path);
  REQUIRE(back.shape() == Tensor<std::uint8_t, 3>::Shape{12, 21, 3});
  for (std::int64_t y = 0; y < 12; ++y)
    for (std::int64_t x = 0; x < 21; ++x)
      for (int c = 0; c < 3; ++c) REQUIRE(back(y, x, c) == window(y, x, c));
}

TEST_CASE("write_png: each problem is a dsvl::Error naming the file") {
  const auto img = pattern(4, 5);
  const auto no_dir = std::filesystem::temp_directory_path() / "dsvl_no_such_dir_for_image_test" / "out.png";
  try {
    io::write_png(no_dir, img.view());
    FAIL("no error");
  } catch (const dsvl::Error& e) {
    CHECK(e.where() == no_dir.string());
    CHECK(e.problem() == "cannot create a file beside it: No such file or directory");
  }
  CHECK_FALSE(std::filesystem::exists(no_dir));
  const auto dir = std::filesystem::temp_directory_path();
  CHECK_THROWS_WITH_AS(io::write_png(dir, img.view()), doctest::Contains("is a folder, expected a file name"), dsvl::Error);

  TempFile f("bad.png");
  Tensor<std::uint8_t, 3> rgba({4, 5, 4});
  CHECK_THROWS_WITH_AS(io::write_png(f.path, rgba.view()), doctest::Contains("bad.png: cannot write a PNG from 4 channels"),
                       dsvl::Error);
  Tensor<std::uint8_t, 3> empty({0, 5, 3});
  CHECK_THROWS_WITH_AS(io::write_png(f.path, empty.view()), doctest::Contains("cannot write an empty PNG image (5x0)"),
                       dsvl::Error);
  CHECK_FALSE(std::filesystem::exists(f.path));  // encoding fails before the file is opened
  CHECK_THROWS_WITH_AS(io::encode_png(empty.view(), "frame 3"), doctest::Contains("frame 3: cannot write an empty PNG"),
                       dsvl::Error);
}

#endif  // DSVL_WITH_IMAGE
