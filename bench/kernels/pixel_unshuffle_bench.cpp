// pixel_unshuffle at DeepSeek-VL2's projector shape: a 27x27 SigLIP-SO400M grid of 1152 channels,
// padded to 28x28, r = 2. A permutation: GB/s counts reading x and writing y once.
#include <memory>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

template <class Tag>
void add_cases(const char* impl) {
  constexpr std::int64_t C = 1152, H = 28, W = 28, r = 2;
  bench::Case c;
  c.op = "pixel_unshuffle";
  c.impl = impl;
  c.dtype = "f32";
  c.shape = "1152x28x28 r2 (VL2 projector)";
  c.bytes = 2.0 * 4.0 * C * H * W;
  c.bound = bench::Bound::memory;
  c.summary = std::string(impl) == "xsimd";
  if (std::string(impl) != "scalar") c.peers = {"scalar"};
  c.setup = [](ThreadPool&) {
    auto x = std::make_shared<Tensor<float, 3>>(Tensor<float, 3>({C, H, W}));
    auto y = std::make_shared<Tensor<float, 3>>(Tensor<float, 3>({C * r * r, H / r, W / r}));
    for (std::int64_t i = 0; i < x->size(); ++i) x->data()[i] = static_cast<float>(i % 1013);
    return std::function<void()>([x, y] { kernels::pixel_unshuffle(Tag{}, std::as_const(*x).view(), r, y->view()); });
  };
  bench::registry().push_back(std::move(c));
}

DSVL_BENCH_REGISTER(add_cases<scalar_tag>("scalar"); add_cases<xsimd_tag<>>("xsimd"); add_cases<hwy_tag>("hwy"));
}  // namespace
