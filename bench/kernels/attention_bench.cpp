// Scaled dot-product attention (kernels::attention: the composite of gemm and softmax under the
// scalar and xsimd tags, the tiled and decode kernels under hwy) on the shapes of the models: a
// DeepSeek-VL 1.3B decode step (16 heads of 128, one query, 640 cached keys) and its causal
// 576-token prefill, SigLIP-L/16 at 384 (576 patches, 16 heads of 64, no mask), SigLIP-SO400M/14
// (729 patches, 16 heads of 72), SAM ViT-B's global attention (4096 tokens of a 1024-pixel image,
// 12 heads of 64), without and with its decomposed relative positions (kernels::RelPos2d; hwy
// against xsimd, the scalar reference being too slow to time there), one of its 14 x 14 windows,
// a grouped-query decode step (32 query heads on 8 key/value heads, 2048 cached keys) and a
// DeepSeek-VL2-Small MLA decode step in its absorbed form (16 heads on one latent row per key:
// keys of 576 = 512 + 64 rope dims, values of 512, 1055 cached keys); the decode steps also with
// the keys and values in bf16 (a bf16 KV cache), which halves their bytes. GFLOP/s counts the two
// products, 2 T S H (Dk + Dv) (halved for a causal prefill, whose blocks skip keys no query sees;
// the relative-position terms, 4 T H Dh side, are not counted).
#include <algorithm>
#include <memory>
#include <type_traits>

#include "bench.hpp"
#include "dsvl/dsvl.hpp"
#include "dsvl/kernels/attention.hpp"

namespace {
using namespace dsvl;

template <class Tag, class KV = float>
void add_cases(const char* impl) {
  constexpr bool bf16_kv = std::is_same_v<KV, bf16>;
  struct Shape {
    std::int64_t T, S, H, Hkv, Dh;
    kernels::SoftmaxMask mask;
    const char* what;
    std::int64_t side = 0;  // > 0: relative positions on a side x side grid
    std::int64_t Dv = 0;    // > 0: the values' head dim where it differs from the keys' (Dh)
  };
  for (const Shape& s : {Shape{1, 640, 16, 16, 128, {639, -1}, "VL-1.3B decode"},
                         Shape{576, 576, 16, 16, 128, {0, -1}, "VL-1.3B causal prefill"},
                         Shape{576, 576, 16, 16, 64, {}, "SigLIP-L/16 384"},
                         Shape{729, 729, 16, 16, 72, {}, "SigLIP-SO400M/14"},
                         Shape{4096, 4096, 12, 12, 64, {}, "SAM-B global"},
                         Shape{4096, 4096, 12, 12, 64, {}, "SAM-B global, relative positions", 64},
                         Shape{196, 196, 12, 12, 64, {}, "SAM-B window, relative positions", 14},
                         Shape{1, 2048, 32, 8, 128, {2047, -1}, "GQA decode"},
                         Shape{1, 1055, 16, 1, 576, {1054, -1}, "VL2-Small MLA decode", 0, 512}}) {
    const bool long_sequence = s.S > 1024;  // the scalar reference would take tens of seconds a call
    if (long_sequence && std::string(impl) == "scalar") continue;
    if (bf16_kv && s.T > 1) continue;
    const std::int64_t Dv = s.Dv > 0 ? s.Dv : s.Dh;
    bench::Case c;
    c.op = "attention";
    c.impl = impl;
    c.dtype = bf16_kv ? "bf16" : "f32";
    c.shape = "T" + std::to_string(s.T) + " S" + std::to_string(s.S) + " H" + std::to_string(s.H) + "/" +
              std::to_string(s.Hkv) + " Dh" + std::to_string(s.Dh) +
              (Dv != s.Dh ? "/" + std::to_string(Dv) : "") + " (" + s.what + (bf16_kv ? ", bf16 K/V)" : ")");
    c.flops = 2.0 * s.T * s.S * s.H * (s.Dh + Dv) * (s.mask.causal_offset == 0 ? 0.5 : 1.0);
    c.bytes = 4.0 * s.T * s.H * (s.Dh + Dv) + static_cast<double>(sizeof(KV)) * s.S * s.Hkv * (s.Dh + Dv);
    c.bound = s.T == 1 ? bench::Bound::memory : bench::Bound::compute;
    c.threaded = true;
    c.summary = s.T == 1 && s.H == 16 && s.Hkv == 16;
    if (std::string(impl) != "scalar" && !long_sequence) c.peers = {"scalar"};
    if (std::string(impl) == "hwy" && long_sequence) c.peers = {"xsimd"};
    c.setup = [s, Dv](ThreadPool& pool) {
      struct State {
        Tensor<float, 3> q;
        Tensor<KV, 3> k, v;
        Tensor<float, 3> out;
        Tensor<float, 2> rel_h, rel_w;
      };
      const std::int64_t E = std::max<std::int64_t>(2 * s.side - 1, 0);
      auto st = std::make_shared<State>(State{Tensor<float, 3>({s.T, s.H, s.Dh}), Tensor<KV, 3>({s.S, s.Hkv, s.Dh}),
                                              Tensor<KV, 3>({s.S, s.Hkv, Dv}), Tensor<float, 3>({s.T, s.H, Dv}),
                                              Tensor<float, 2>({E, s.Dh}), Tensor<float, 2>({E, s.Dh})});
      for (std::int64_t i = 0; i < st->q.size(); ++i) st->q.data()[i] = 0.001f * static_cast<float>(i % 1999) - 1.0f;
      for (auto* t : {&st->k, &st->v})
        for (std::int64_t i = 0; i < t->size(); ++i)
          t->data()[i] = from_f32<KV>(0.001f * static_cast<float>(i % 1999) - 1.0f);
      for (auto* t : {&st->rel_h, &st->rel_w})
        for (std::int64_t i = 0; i < t->size(); ++i) t->data()[i] = 0.0005f * static_cast<float>(i % 997) - 0.25f;
      const float scale = 1.0f / std::sqrt(static_cast<float>(s.Dh));
      return std::function<void()>([st, s, scale, &pool] {
        const auto q = std::as_const(st->q).view();
        const auto k = std::as_const(st->k).view(), v = std::as_const(st->v).view();
        if constexpr (!bf16_kv) {
          if (s.side > 0) {
            kernels::attention(Tag{}, q, k, v,
                               kernels::RelPos2d{std::as_const(st->rel_h).view(), std::as_const(st->rel_w).view()},
                               scale, st->out.view(), pool);
            return;
          }
        }
        kernels::attention(Tag{}, q, k, v, s.mask, scale, st->out.view(), pool);
      });
    };
    bench::registry().push_back(std::move(c));
  }
}

template <class KV>
void add_all() {
  add_cases<scalar_tag, KV>("scalar");
  add_cases<xsimd_tag<>, KV>("xsimd");
  add_cases<hwy_tag, KV>("hwy");
}

DSVL_BENCH_REGISTER(add_all<float>(); add_all<bf16>());
}  // namespace
