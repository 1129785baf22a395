// RoPE in place over a 576-token prefill: rotate_half on VL-1.3B's queries (16 heads x 128, the
// whole head), and the interleaved rotation on VL2-Small's MLA q_pe (16 heads, the last 64 of each
// 192-dim query head, so head rows are strided). GB/s counts reading and writing the rotated dims
// and reading the cos/sin tables once; GFLOP/s counts 3 operations per rotated element.
#include <memory>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"

namespace {
using namespace dsvl;

template <class Tag>
void add_cases(const char* impl) {
  for (bool interleaved : {false, true}) {
    constexpr std::int64_t T = 576, H = 16;
    const std::int64_t R = interleaved ? 64 : 128, Dh = interleaved ? 192 : 128;
    bench::Case c;
    c.op = interleaved ? "rope_interleaved" : "rope_half";
    c.impl = impl;
    c.dtype = "f32";
    c.shape = interleaved ? "576x16x64 of 192 (VL2-Small MLA q_pe)" : "576x16x128 (VL-1.3B q)";
    c.flops = 3.0 * T * H * R;
    c.bytes = 8.0 * T * H * R + 4.0 * T * R;
    c.bound = bench::Bound::memory;
    c.summary = true;
    if (std::string(impl) != "scalar") c.peers = {"scalar"};
    c.setup = [interleaved, R, Dh](ThreadPool&) {
      auto q = std::make_shared<Tensor<float, 3>>(Tensor<float, 3>({T, H, Dh}));
      auto cos = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({T, R / 2}));
      auto sin = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({T, R / 2}));
      std::vector<std::int32_t> pos(T);
      for (std::int64_t t = 0; t < T; ++t) pos[t] = static_cast<std::int32_t>(t);
      kernels::rope_cos_sin(View<const std::int32_t, 1>(pos.data(), {T}), 10000.0f, R, cos->view(), sin->view());
      for (std::int64_t i = 0; i < q->size(); ++i) q->data()[i] = 0.001f * static_cast<float>(i % 997);
      const auto x = q->view().slice(2, Dh - R, Dh);  // (T, H, R): the rotated part of each head
      return std::function<void()>([q, cos, sin, x, interleaved] {
        if (interleaved) kernels::rope_interleaved(Tag{}, x, std::as_const(*cos).view(), std::as_const(*sin).view());
        else kernels::rope_half(Tag{}, x, std::as_const(*cos).view(), std::as_const(*sin).view());
      });
    };
    bench::registry().push_back(std::move(c));
  }
}

DSVL_BENCH_REGISTER(add_cases<scalar_tag>("scalar"); add_cases<xsimd_tag<>>("xsimd"); add_cases<hwy_tag>("hwy"));
}  // namespace
