#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "dsvl/vision/preprocess.hpp"
#include "vision/preprocess_fixture.hpp"
#if defined(DSVL_WITH_IMAGE)
#include "dsvl/io/image.hpp"
#endif

using namespace dsvl;
using dsvl::test::PreprocessFixture;

namespace {

std::string case_name(const nlohmann::json& c) {
  std::ostringstream os;
  if (c.contains("pattern"))
    os << c["pattern"].get<std::string>() << " seed " << c["seed"] << " " << c["h"] << "x" << c["w"] << " -> "
       << c["out_h"] << "x" << c["out_w"];
  else
    os << c["file"].get<std::string>() << " S=" << c["image_size"] << (c["do_normalize"].get<bool>() ? " normalised" : "");
  return os.str();
}

vision::VLMImageProcessorConfig config_of(const nlohmann::json& c) {
  return vision::parse_vlm_image_processor_config(c, "case");
}

// The fixtures' names of the Pillow releases.
const std::pair<const char*, vision::PillowVersion> kVersions[] = {
    {"before_12_2", vision::PillowVersion::before_12_2},
    {"v12_2", vision::PillowVersion::v12_2},
    {"v13", vision::PillowVersion::v13},
};

}  // namespace

TEST_CASE("resize_bicubic equals Pillow's Image.resize(BICUBIC) byte for byte, for each release's pass order") {
  const auto& fx = PreprocessFixture::get();
  int stored = 0, compared = 0;
  double max_diff = 0;
  for (const auto& c : fx.cases.at("resize")) {
    CAPTURE(case_name(c));
    const auto in = test::pattern(c["pattern"], c["seed"], c["h"], c["w"]);
    for (const auto& v : kVersions) {
      const char* name = v.first;
      const vision::PillowVersion version = v.second;
      CAPTURE(name);
      const auto& e = c.at("expected").at(name);
      const auto out = vision::resize_bicubic(in.view(), c["out_h"], c["out_w"], version);
      REQUIRE(out.shape() == Tensor<std::uint8_t, 3>::Shape{c["out_h"], c["out_w"], 3});
      const std::size_t n = static_cast<std::size_t>(out.size());
      if (const std::uint8_t* want = fx.stored(e, n)) {
        const auto d = test::difference(out.data(), want, out.size());
        CHECK_MESSAGE(d.count == 0, d.count, " bytes differ, by up to ", d.max);
        max_diff = std::max(max_diff, d.max);
        ++stored;
      }
      CHECK(test::crc32(out.data(), n) == e["crc32"].get<std::uint32_t>());
      ++compared;
    }
  }
  MESSAGE(compared, " resizes (", fx.cases.at("resize").size(), " cases x 3 Pillow releases; ", stored,
          " compared whole, the rest by CRC-32); largest difference ", max_diff);
  CHECK(stored >= 60);
}

TEST_CASE("pillow_vertical_first: the pass order of each Pillow release") {
  using vision::PillowVersion;
  CHECK_FALSE(vision::pillow_vertical_first(PillowVersion::before_12_2, 5000, 40, 1024, 8));
  CHECK(vision::pillow_vertical_first(PillowVersion::v12_2, 5000, 40, 1024, 8));
  CHECK_FALSE(vision::pillow_vertical_first(PillowVersion::v12_2, 3000, 1000, 1024, 341));
  CHECK_FALSE(vision::pillow_vertical_first(PillowVersion::v12_2, 4000, 40, 4001, 8));
  CHECK(vision::pillow_vertical_first(PillowVersion::v13, 3000, 1000, 1024, 341));
  CHECK_FALSE(vision::pillow_vertical_first(PillowVersion::v13, 2000, 1000, 1024, 512));
  CHECK(vision::pillow_vertical_first(PillowVersion::v13, 37, 23, 23, 37));
  CHECK_FALSE(vision::pillow_vertical_first(PillowVersion::v13, 23, 37, 37, 23));
}

TEST_CASE("resize_bicubic: strided rows, one channel, threads and the same size") {
  const auto img = test::pattern("noise", 99, 37, 53);
  const auto want = vision::resize_bicubic(img.view(), 19, 70);

  // Rows with a gap after them, input and output.
  std::vector<std::uint8_t> in_buf(37 * 200), out_buf(19 * 250, 7);
  View<std::uint8_t, 3> in_v(in_buf.data(), {37, 53, 3}, {200, 3, 1});
  for (int y = 0; y < 37; ++y)
    for (int x = 0; x < 53; ++x)
      for (int c = 0; c < 3; ++c) in_v(y, x, c) = img(y, x, c);
  View<std::uint8_t, 3> out_v(out_buf.data(), {19, 70, 3}, {250, 3, 1});
  vision::resize_bicubic(View<const std::uint8_t, 3>(in_v), out_v);
  for (int y = 0; y < 19; ++y) {
    CHECK(std::equal(&out_v(y, 0, 0), &out_v(y, 0, 0) + 210, &want(y, 0, 0)));
    CHECK(out_buf[static_cast<std::size_t>(y) * 250 + 210] == 7);  // the gap is not written
  }

  // One channel resamples as one channel of an RGB image (Pillow's "L" and "RGB" use one formula).
  for (int c = 0; c < 3; ++c) {
    Tensor<std::uint8_t, 3> gray({37, 53, 1});
    for (int y = 0; y < 37; ++y)
      for (int x = 0; x < 53; ++x) gray(y, x, 0) = img(y, x, c);
    const auto g = vision::resize_bicubic(gray.view(), 19, 70);
    bool same = true;
    for (int y = 0; y < 19; ++y)
      for (int x = 0; x < 70; ++x) same = same && g(y, x, 0) == want(y, x, c);
    CHECK(same);
  }

  // Any number of threads gives the same bytes.
  const auto big = test::pattern("smooth", 5, 301, 257);
  const auto ref = vision::resize_bicubic(big.view(), 97, 129);
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (auto v : {vision::PillowVersion::before_12_2, vision::PillowVersion::v13}) {
      const auto got = vision::resize_bicubic(big.view(), 97, 129, v, pool);
      const auto one = vision::resize_bicubic(big.view(), 97, 129, v);
      CHECK(std::equal(got.data(), got.data() + got.size(), one.data()));
    }
  }

  // The same size is a copy.
  const auto same_size = vision::resize_bicubic(img.view(), 37, 53);
  CHECK(std::equal(same_size.data(), same_size.data() + same_size.size(), img.data()));
}

TEST_CASE("resize_bicubic weights: Pillow's taps, summing to one in 22-bit fixed point") {
  for (const auto& sizes : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {1, 1}, {1, 7}, {7, 1}, {5, 17}, {17, 5}, {1000, 3}, {4032, 1024}, {384, 1024}, {3, 1000}}) {
    const std::int64_t in = sizes.first, out = sizes.second;
    CAPTURE(in);
    CAPTURE(out);
    const auto ax = vision::detail::bicubic_axis(in, out);
    for (std::int64_t i = 0; i < out; ++i) {
      const auto k = static_cast<std::size_t>(i);
      REQUIRE(ax.count[k] >= 1);
      REQUIRE(ax.first[k] >= 0);
      REQUIRE(ax.first[k] + ax.count[k] <= in);
      std::int64_t sum = 0;
      for (std::int64_t t = ax.offset[k]; t < ax.offset[k + 1]; ++t) sum += ax.weight[static_cast<std::size_t>(t)];
      CHECK(std::abs(sum - (std::int64_t{1} << 22)) <= ax.count[k]);  // each weight rounds once
    }
  }
  // Upscaling reads four inputs (fewer at the borders); 4032 -> 1024 about 4 * 3.94.
  const auto up = vision::detail::bicubic_axis(10, 40);
  CHECK(up.max_count == 4);
  const auto down = vision::detail::bicubic_axis(4032, 1024);
  CHECK(down.max_count == 16);
}

TEST_CASE("resize_bicubic and expand_to_square reject what they cannot do") {
  const auto img = test::pattern("noise", 1, 4, 5);
  Tensor<std::uint8_t, 3> out4({3, 3, 4});
  CHECK_THROWS_WITH_AS(vision::resize_bicubic(img.view(), out4.view()), doctest::Contains("channels"), dsvl::Error);
  CHECK_THROWS_WITH_AS(vision::resize_bicubic(img.view(), 0, 3), doctest::Contains("at least 1"), dsvl::Error);
  Tensor<std::uint8_t, 3> empty({0, 5, 3});
  CHECK_THROWS_WITH_AS(vision::resize_bicubic(empty.view(), 2, 2), doctest::Contains("at least 1"), dsvl::Error);
  std::vector<std::uint8_t> planar(4 * 5 * 3);
  View<const std::uint8_t, 3> chw_order(planar.data(), {4, 5, 3}, {5, 1, 20});
  CHECK_THROWS_WITH_AS(vision::resize_bicubic(chw_order, 2, 2), doctest::Contains("packed"), dsvl::Error);
  const std::uint8_t two[2] = {1, 2};
  CHECK_THROWS_WITH_AS(vision::expand_to_square(img.view(), two), doctest::Contains("background"), dsvl::Error);
}

TEST_CASE("expand_to_square pastes at floor((side - size) / 2)") {
  const std::uint8_t bg[3] = {10, 20, 30};
  const auto wide = test::pattern("noise", 2, 3, 8);  // pad 5 rows: 2 above, 3 below
  const auto sq = vision::expand_to_square(wide.view(), bg);
  REQUIRE(sq.shape() == Tensor<std::uint8_t, 3>::Shape{8, 8, 3});
  for (int x = 0; x < 8; ++x) {
    CHECK(sq(1, x, 2) == 30);
    CHECK(sq(2, x, 0) == wide(0, x, 0));
    CHECK(sq(4, x, 1) == wide(2, x, 1));
    CHECK(sq(5, x, 0) == 10);
  }
  const auto tall = test::pattern("noise", 3, 7, 2);  // pad 5 columns: 2 left, 3 right
  const auto sq2 = vision::expand_to_square(tall.view(), bg);
  CHECK(sq2(0, 1, 1) == 20);
  CHECK(sq2(6, 2, 0) == tall(6, 0, 0));
  CHECK(sq2(6, 3, 2) == tall(6, 1, 2));
  CHECK(sq2(6, 4, 0) == 10);
  const auto copy = vision::expand_to_square(sq.view(), bg);
  CHECK(std::equal(copy.data(), copy.data() + copy.size(), sq.data()));
}

TEST_CASE("VLMImageProcessorConfig: presets, preprocessor_config.json and checks") {
  const auto j = nlohmann::json::parse(R"({
    "background_color": [122, 116, 104], "do_normalize": false,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "VLMImageProcessor",
    "image_size": 1024, "image_std": [0.26862954, 0.26130258, 0.27577711], "min_size": 14,
    "processor_class": "VLChatProcessor", "rescale_factor": 0.00392156862745098})");
  CHECK(vision::parse_vlm_image_processor_config(j, "7b") == vision::kDeepSeekVL7BImageProcessor);
  const auto bg = vision::vlm_background_color(vision::kDeepSeekVL7BImageProcessor);
  CHECK(bg == std::array<std::uint8_t, 3>{122, 116, 104});
  CHECK(vision::vlm_background_color(vision::kDeepSeekVL1_3BImageProcessor) == std::array<std::uint8_t, 3>{127, 127, 127});
  const auto d = vision::parse_vlm_image_processor_config(nlohmann::json::parse(R"({"image_size": 384})"), "d");
  CHECK(d.do_normalize);
  CHECK(d.min_size == 14);
  CHECK_THROWS_WITH_AS(vision::parse_vlm_image_processor_config(nlohmann::json::parse("{}"), "cfg.json"),
                       doctest::Contains("image_size"), dsvl::Error);
  CHECK_THROWS_WITH_AS(
      vision::parse_vlm_image_processor_config(nlohmann::json::parse(R"({"image_size": 384, "image_mean": [0.5]})"), "cfg.json"),
      doctest::Contains("image_mean"), dsvl::Error);

  // Sizes: the long side becomes S, the short one int(short / long * S), at least min_size.
  const auto& c = vision::kDeepSeekVL1_3BImageProcessor;
  CHECK(vision::vlm_resized_size(120, 160, c) == std::array<std::int64_t, 2>{288, 384});
  CHECK(vision::vlm_resized_size(101, 37, c) == std::array<std::int64_t, 2>{384, 140});
  CHECK(vision::vlm_resized_size(5, 300, c) == std::array<std::int64_t, 2>{14, 384});
  CHECK(vision::vlm_resized_size(1, 1, c) == std::array<std::int64_t, 2>{384, 384});

  const auto img = test::pattern("smooth", 1, 6, 9);
  auto bad = c;
  bad.image_size = 10;
  CHECK_THROWS_WITH_AS(vision::vlm_preprocess(img.view(), bad), doctest::Contains("min_size"), dsvl::Error);
  bad = c;
  bad.do_normalize = true;
  bad.image_std[1] = 0;
  CHECK_THROWS_WITH_AS(vision::vlm_preprocess(img.view(), bad), doctest::Contains("image_std"), dsvl::Error);
  Tensor<float, 3> wrong({3, 384, 383});
  CHECK_THROWS_WITH_AS(vision::vlm_preprocess(img.view(), c, wrong.view()), doctest::Contains("3x384x384"), dsvl::Error);
}

TEST_CASE("vlm_pixel_values: float32(u8 * rescale_factor), then (x - mean) / std in float32") {
  Tensor<std::uint8_t, 3> sq({1, 1, 3});
  auto c = vision::kDeepSeekVL7BImageProcessor;
  c.do_normalize = true;
  for (int v = 0; v < 256; ++v) {
    sq(0, 0, 0) = sq(0, 0, 1) = sq(0, 0, 2) = static_cast<std::uint8_t>(v);
    Tensor<float, 3> out({3, 1, 1});
    vision::vlm_pixel_values(sq.view(), c, out.view());
    for (int ch = 0; ch < 3; ++ch) {
      const float x = static_cast<float>(v * (1.0 / 255.0));
      const float want = (x - static_cast<float>(c.image_mean[ch])) / static_cast<float>(c.image_std[ch]);
      CHECK(out(ch, 0, 0) == want);
    }
  }
}

#if defined(DSVL_WITH_IMAGE)
TEST_CASE("vlm_preprocess equals the official VLMImageProcessor (Pillow + numpy) on PNG and JPEG files") {
  const auto& fx = PreprocessFixture::get();
  int stored = 0, compared = 0;
  double max_diff = 0;
  for (const auto& c : fx.cases.at("v1")) {
    CAPTURE(case_name(c));
    const auto cfg = config_of(c);
    const auto rgb = io::read_image(test::test_data(c["file"]));
    const auto size = vision::vlm_resized_size(rgb.shape(0), rgb.shape(1), cfg);
    CHECK(size[0] == c["resized_h"].get<std::int64_t>());
    CHECK(size[1] == c["resized_w"].get<std::int64_t>());
    const auto bg = vision::vlm_background_color(cfg);
    CHECK(std::vector<int>(bg.begin(), bg.end()) == c["background"].get<std::vector<int>>());
    for (const auto& v : kVersions) {
      const char* name = v.first;
      const vision::PillowVersion version = v.second;
      CAPTURE(name);
      const auto& e = c.at("expected").at(name);
      const auto square = vision::vlm_resize_pad(rgb.view(), cfg, version);
      CHECK(test::crc32(square.data(), static_cast<std::size_t>(square.size())) == e["square_crc32"].get<std::uint32_t>());
      const auto x = vision::vlm_preprocess(rgb.view(), cfg, version);
      REQUIRE(x.shape() == Tensor<float, 3>::Shape{3, cfg.image_size, cfg.image_size});
      const std::size_t bytes = static_cast<std::size_t>(x.size()) * sizeof(float);
      if (const std::uint8_t* want = fx.stored(e, bytes)) {
        std::vector<float> w(static_cast<std::size_t>(x.size()));
        std::memcpy(w.data(), want, bytes);
        const auto d = test::difference(x.data(), w.data(), x.size());
        CHECK_MESSAGE(d.count == 0, d.count, " values differ, by up to ", d.max);
        max_diff = std::max(max_diff, d.max);
        ++stored;
      }
      CHECK(test::crc32(x.data(), bytes) == e["crc32"].get<std::uint32_t>());
      ++compared;
    }
  }
  MESSAGE(compared, " processor runs (", fx.cases.at("v1").size(), " cases x 3 Pillow releases; ", stored,
          " compared whole, the rest by CRC-32); largest difference ", max_diff);
}
#endif

TEST_CASE("contain_size: ImageOps.contain with Python's round (half to even)") {
  CHECK(vision::contain_size(120, 160, 384, 384) == std::array<std::int64_t, 2>{288, 384});
  CHECK(vision::contain_size(3, 8, 12, 12) == std::array<std::int64_t, 2>{4, 12});   // 4.5 -> 4
  CHECK(vision::contain_size(3, 8, 20, 20) == std::array<std::int64_t, 2>{8, 20});   // 7.5 -> 8
  CHECK(vision::contain_size(8, 3, 12, 12) == std::array<std::int64_t, 2>{12, 4});
  CHECK(vision::contain_size(1, 1000, 384, 384) == std::array<std::int64_t, 2>{0, 384});
  CHECK(vision::contain_size(50, 50, 384, 768) == std::array<std::int64_t, 2>{384, 384});
  CHECK(vision::contain_size(50, 100, 384, 768) == std::array<std::int64_t, 2>{384, 768});
}

#if defined(DSVL_WITH_IMAGE)
TEST_CASE("contain_and_pad equals ImageOps.pad (DeepSeek-VL2's global view and tile canvas)") {
  const auto& fx = PreprocessFixture::get();
  int stored = 0, compared = 0;
  double max_diff = 0;
  for (const auto& c : fx.cases.at("pad")) {
    const bool from_file = c.contains("file");
    CAPTURE(from_file ? c["file"].get<std::string>() : c["pattern"].get<std::string>() + " seed " + c["seed"].dump());
    const auto img = from_file ? io::read_image(test::test_data(c["file"]))
                               : test::pattern(c["pattern"], c["seed"], c["h"], c["w"]);
    const std::int64_t oh = c["out_h"], ow = c["out_w"];
    CAPTURE(oh);
    CAPTURE(ow);
    CHECK(vision::contain_size(img.shape(0), img.shape(1), oh, ow) ==
          std::array<std::int64_t, 2>{c["contain_h"], c["contain_w"]});
    const auto color = c["color"].get<std::vector<std::uint8_t>>();
    const auto centering = c["centering"].get<std::vector<double>>();
    for (const auto& v : kVersions) {
      const char* name = v.first;
      const vision::PillowVersion version = v.second;
      CAPTURE(name);
      const auto& e = c.at("expected").at(name);
      const auto out = vision::contain_and_pad(img.view(), oh, ow, color, {centering[0], centering[1]}, version);
      REQUIRE(out.shape() == Tensor<std::uint8_t, 3>::Shape{oh, ow, 3});
      const auto n = static_cast<std::size_t>(out.size());
      if (const std::uint8_t* want = fx.stored(e, n)) {
        const auto d = test::difference(out.data(), want, out.size());
        CHECK_MESSAGE(d.count == 0, d.count, " bytes differ, by up to ", d.max);
        max_diff = std::max(max_diff, d.max);
        ++stored;
      }
      CHECK(test::crc32(out.data(), n) == e["crc32"].get<std::uint32_t>());
      ++compared;
    }
  }
  MESSAGE(compared, " pads (", fx.cases.at("pad").size(), " cases x 3 Pillow releases; ", stored,
          " compared whole, the rest by CRC-32); largest difference ", max_diff);
  const std::uint8_t two[2] = {1, 2};
  const auto img = test::pattern("noise", 1, 4, 5);
  CHECK_THROWS_WITH_AS(vision::contain_and_pad(img.view(), 8, 8, two), doctest::Contains("colour"), dsvl::Error);
}
#endif

#if defined(DSVL_WITH_IMAGE)
namespace {
// The U8 and F64 tensors of a safetensors file (which io::SafeTensorsFile does not open), by name.
std::map<std::string, std::vector<std::uint8_t>> raw_tensors(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::vector<std::uint8_t> b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  REQUIRE(b.size() >= 8);
  std::uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  const auto header = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  std::map<std::string, std::vector<std::uint8_t>> out;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") continue;
    const auto off = v["data_offsets"].get<std::vector<std::size_t>>();
    const auto* p = b.data() + 8 + n;
    out[name].assign(p + off[0], p + off[1]);
  }
  return out;
}
}  // namespace

// tools/reference/deepseek_vl_v1.py ran the official processor (torchvision 0.15.2, transformers
// 4.38.2, Pillow 10.2.0) on tests/data/deepseek_vl/image*.png: it kept the uint8 image of one case
// and float64 row and column sums of the pixel values of the others.
TEST_CASE("vlm_preprocess equals the official processor's pixel values in tests/data/deepseek_vl") {
  const auto dir = test::test_data("deepseek_vl");
  if (!std::filesystem::exists(dir / "tiny-siglip/reference.safetensors")) {
    MESSAGE("skipped: tests/data/deepseek_vl is not there");
    return;
  }
  struct Case {
    const char* model;
    const char* image;
    const char* prefix;
    std::int64_t index;
  };
  const Case cases[] = {{"tiny-siglip", "image.png", "one_image", 0},
                        {"tiny-siglip", "image2.png", "image_mid_text", 0},
                        {"tiny-hybrid", "image.png", "one_image", 0},
                        {"tiny-hybrid", "image.png", "two_images", 0},
                        {"tiny-hybrid", "image2.png", "two_images", 1}};
  int images = 0, sums = 0;
  for (const Case& c : cases) {
    CAPTURE(std::string(c.model) + " " + c.prefix + " " + c.image);
    const auto cfg = vision::read_vlm_image_processor_config(dir / c.model / "preprocessor_config.json");
    const auto ref = raw_tensors(dir / c.model / "reference.safetensors");
    const auto rgb = io::read_image(dir / c.image);
    // The official environment's Pillow 10.2.0 runs the horizontal pass first.
    const auto square = vision::vlm_resize_pad(rgb.view(), cfg, vision::PillowVersion::before_12_2);
    const auto x = vision::vlm_preprocess(rgb.view(), cfg, vision::PillowVersion::before_12_2);
    const std::int64_t S = cfg.image_size;
    const auto u8 = ref.find(std::string(c.prefix) + ".pixel_values.u8");
    if (u8 != ref.end()) {
      ++images;
      REQUIRE(static_cast<std::int64_t>(u8->second.size()) == 3 * S * S);  // [1, 3, S, S]
      std::int64_t differ = 0;
      for (std::int64_t ch = 0; ch < 3; ++ch)
        for (std::int64_t y = 0; y < S; ++y)
          for (std::int64_t i = 0; i < S; ++i) differ += square(y, i, ch) != u8->second[static_cast<std::size_t>((ch * S + y) * S + i)];
      CHECK(differ == 0);
      // pixel_values = float32(u8) / 255 there (do_normalize is false)
      std::int64_t differ_f = 0;
      for (std::int64_t ch = 0; ch < 3; ++ch)
        for (std::int64_t y = 0; y < S; ++y)
          for (std::int64_t i = 0; i < S; ++i)
            differ_f += x(ch, y, i) != static_cast<float>(square(y, i, ch) * (1.0 / 255.0));
      CHECK(differ_f == 0);
    }
    const auto rows_it = ref.find(std::string(c.prefix) + ".pixel_values.row_sum");  // [n, 3, S] f64
    const auto cols_it = ref.find(std::string(c.prefix) + ".pixel_values.col_sum");
    if (rows_it == ref.end() || cols_it == ref.end()) continue;
    const auto& rows = rows_it->second;
    const auto& cols = cols_it->second;
    REQUIRE(rows.size() >= static_cast<std::size_t>((c.index + 1) * 3 * S * 8));
    REQUIRE(cols.size() == rows.size());
    double max_diff = 0;
    for (std::int64_t ch = 0; ch < 3; ++ch)
      for (std::int64_t k = 0; k < S; ++k) {
        double r = 0, q = 0;
        for (std::int64_t i = 0; i < S; ++i) {
          r += static_cast<double>(x(ch, k, i));
          q += static_cast<double>(x(ch, i, k));
        }
        double want_r = 0, want_q = 0;
        const std::size_t at = static_cast<std::size_t>(((c.index * 3 + ch) * S + k) * 8);
        std::memcpy(&want_r, rows.data() + at, 8);
        std::memcpy(&want_q, cols.data() + at, 8);
        max_diff = std::max({max_diff, std::fabs(r - want_r), std::fabs(q - want_q)});
      }
    CHECK(max_diff < 1e-9);  // one pixel off by one would move a sum by 1/255
    ++sums;
  }
  CHECK(images == 1);
  CHECK(sums == 4);
}
#endif
