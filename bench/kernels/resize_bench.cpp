// vision::resize_bicubic (Pillow-exact bicubic, uint8 RGB) at DeepSeek-VL's preprocessing sizes:
// photographs to the 7B's 1024 and the 1.3B's 384, and an upscale of a small image. GB/s counts
// reading the input and writing the output once; GFLOP/s would count each integer multiply-add
// of the two passes as 2 operations.
#include <memory>

#include "bench.hpp"
#include "dsvl/vision/preprocess.hpp"

namespace {
using namespace dsvl;

struct Shape {
  std::int64_t H, W, Ho, Wo;
  const char* what;
};
const Shape kShapes[] = {
    {3024, 4032, 768, 1024, "12 MP photo -> 1024 (VL-7B)"},
    {1080, 1920, 576, 1024, "1080p frame -> 1024 (VL-7B)"},
    {3024, 4032, 288, 384, "12 MP photo -> 384 (VL-1.3B)"},
    {480, 640, 768, 1024, "640x480 -> 1024, upscaling (VL-7B)"},
};

void add_cases() {
  for (const Shape& s : kShapes) {
    bench::Case c;
    c.op = "resize_bicubic";
    c.impl = "dsvl";
    c.dtype = "u8";
    c.shape = std::to_string(s.H) + "x" + std::to_string(s.W) + "x3 -> " + std::to_string(s.Ho) + "x" +
              std::to_string(s.Wo) + " (" + s.what + ")";
    c.bytes = 3.0 * static_cast<double>(s.H * s.W + s.Ho * s.Wo);
    c.bound = bench::Bound::memory;
    c.threaded = true;
    c.summary = &s == &kShapes[0];
    c.setup = [s](ThreadPool& pool) {
      auto x = std::make_shared<Tensor<std::uint8_t, 3>>(Tensor<std::uint8_t, 3>({s.H, s.W, 3}));
      auto y = std::make_shared<Tensor<std::uint8_t, 3>>(Tensor<std::uint8_t, 3>({s.Ho, s.Wo, 3}));
      for (std::int64_t i = 0; i < x->size(); ++i) x->data()[i] = static_cast<std::uint8_t>((i * 7 + i / 4099) & 255);
      return std::function<void()>([x, y, &pool] {
        vision::resize_bicubic(std::as_const(*x).view(), y->view(), vision::kDefaultPillowVersion, pool);
      });
    };
    bench::registry().push_back(std::move(c));
  }
}

DSVL_BENCH_REGISTER(add_cases());
}  // namespace
