// Fuzz target for io::decode_image: the input is a PNG or JPEG file (the format is recognised by
// its first bytes). Anything wrong must be a dsvl::Error. A decoded image is [H, W, 3] with
// 0 < H * W <= max_pixels; decoding is deterministic; a pixel limit of H * W - 1 refuses it; and
// encode_png of it decodes back to the same pixels.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "dsvl/io/image.hpp"

namespace {

// Large enough for every colour type, bit depth and interlacing at a few hundred pixels a side;
// small enough that a header asking for more is refused before memory is allocated.
constexpr std::int64_t kMaxPixels = std::int64_t{1} << 20;
// The costlier checks (decoding again, encoding) run on images up to this size.
constexpr std::int64_t kRecheckPixels = std::int64_t{1} << 16;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "image_fuzz: %s\n", what);
  std::abort();
}

bool same(const dsvl::Tensor<std::uint8_t, 3>& a, const dsvl::Tensor<std::uint8_t, 3>& b) {
  return a.shape(0) == b.shape(0) && a.shape(1) == b.shape(1) && a.shape(2) == b.shape(2) &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size())) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  dsvl::io::ImageReadOptions opt;
  opt.max_pixels = kMaxPixels;
  dsvl::Tensor<std::uint8_t, 3> rgb;
  try {
    rgb = dsvl::io::decode_image(bytes, "fuzz", opt);
  } catch (const dsvl::Error&) {
    return 0;
  }
  const std::int64_t h = rgb.shape(0), w = rgb.shape(1);
  check(h > 0 && w > 0 && h * w <= kMaxPixels, "image size out of bounds");
  check(rgb.shape(2) == 3 && rgb.size() == h * w * 3, "not [H, W, 3]");
  if (h * w > kRecheckPixels) return 0;

  check(same(dsvl::io::decode_image(bytes, "fuzz", opt), rgb), "decoding twice gave other pixels");
  dsvl::io::ImageReadOptions tight;
  tight.max_pixels = h * w - 1;
  bool refused = false;
  try {
    (void)dsvl::io::decode_image(bytes, "fuzz", tight);
  } catch (const dsvl::Error&) {
    refused = true;
  }
  check(refused, "a pixel limit below H * W did not refuse the image");

  const std::vector<std::uint8_t> png = dsvl::io::encode_png(rgb.view(), "fuzz");
  check(same(dsvl::io::decode_image(png, "fuzz.png"), rgb), "encode_png did not round-trip");
  return 0;
}
