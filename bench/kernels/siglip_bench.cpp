// Whole SigLIP towers on one image, random weights, f32, bf16, q8 and q4 storage of the blocks'
// matrices: SigLIP-L/16 at 384 px (DeepSeek-VL's image encoder: 576 patches, 24 blocks of width
// 1024) and SigLIP-SO400M/14 at 384 px (DeepSeek-VL2's, per tile: 729 patches, 27 blocks of width
// 1152; Highway only).
// GFLOP/s counts the GEMMs, the patch embedding and attention's two matrix products:
//   2·N·D·3p² + layers·(2·N·D·(3D + D + 2M) + 4·N²·D).
// The policies of one tower and float dtype share one set of weights (SigLIP-L: about 1.2 GB in
// f32, 0.6 GB in bf16); a quantized model rounds its own.
// "xsimd-preset" is SiglipVit<P, kSiglipLarge16_384>, the sizes fixed at compile time.
#include <map>
#include <memory>
#include <string>

#include "bench.hpp"
#include "weights.hpp"
#include "dsvl/dsvl.hpp"
#include "dsvl/vision/siglip_vit.hpp"

namespace {
using namespace dsvl;

// Every weight's data by full name: filled from the first model of a dtype (which owns the
// weights), then borrowed by the models of the other policies.
using WeightData = std::map<std::string, const void*>;

struct Collect : nn::WeightVisitor<Collect> {
  WeightData* out = nullptr;
  template <class T, std::size_t R>
  void weight(std::string_view name, nn::Weight<T, R>& w, const std::array<std::int64_t, R>&) {
    (*out)[full_name(name)] = w.view().data();
  }
  void unused(std::string_view) {}
};

struct Borrow : nn::WeightVisitor<Borrow> {
  const WeightData* in = nullptr;
  template <class T, std::size_t R>
  void weight(std::string_view name, nn::Weight<T, R>& w, const std::array<std::int64_t, R>& shape) {
    w.borrow(View<const T, R>(static_cast<const T*>(in->at(full_name(name))), shape));
  }
  void unused(std::string_view) {}
};

template <class W, vision::VitConfig C>
struct Shared {
  static inline WeightData data;
  static inline std::shared_ptr<void> owner;
};

template <class Model, vision::VitConfig C>
std::shared_ptr<Model> model() {
  using W = typename Model::W;
  if constexpr (is_quant_format_v<W>) {  // rounded once, kept for every round
    static std::shared_ptr<Model> quantized;
    if (!quantized) {
      quantized = std::make_shared<Model>(C);
      nn::WeightRandomInit init(42);
      quantized->visit(init);
    }
    return quantized;
  } else {
    WeightData& data = Shared<W, C>::data;
    std::shared_ptr<void>& owner = Shared<W, C>::owner;  // the model that owns the weights of this tower and dtype
    auto m = std::make_shared<Model>(C);
    if (!owner) {
      nn::WeightRandomInit init(42);
      m->visit(init);
      Collect collect;
      collect.out = &data;
      m->visit(collect);
      owner = m;
    } else {
      Borrow borrow;
      borrow.in = &data;
      m->visit(borrow);
    }
    return m;
  }
}

// Model: SiglipVit<P> (sizes read at run time) or SiglipVit<P, preset> (fixed at compile time,
// reported as "<impl>-preset" against the run-time model of the same policy).
template <class Model, vision::VitConfig C = vision::kSiglipLarge16_384>
void add_case(const char* impl, const char* peer = "") {
  using W = typename Model::W;
  const double N = static_cast<double>(C.num_patches()), D = static_cast<double>(C.width);
  const double M = static_cast<double>(C.mlp_dim()), p = static_cast<double>(C.patch_size);
  bench::Case c;
  c.op = "siglip_vit";
  c.impl = impl;
  c.dtype = bench::weight_dtype<W>();
  c.shape = C == vision::kSiglipLarge16_384
                ? "SigLIP-L/16 at 384: 1 image, 576x1024, 24 blocks (VL-1.3B, VL-7B low-res)"
                : "SigLIP-SO400M/14 at 384: 1 tile, 729x1152, 27 blocks (VL2)";
  c.flops = 2 * N * D * 3 * p * p + C.layers * (2 * N * D * (4 * D + 2 * M) + 4 * N * N * D);
  const std::int64_t Di = C.width, Mi = C.mlp_dim();
  c.bytes = static_cast<double>(C.layers) * (bench::matrix_bytes<W>(3 * Di, Di) + bench::matrix_bytes<W>(Di, Di) +
                                             bench::matrix_bytes<W>(Mi, Di) + bench::matrix_bytes<W>(Di, Mi));
  c.bound = bench::Bound::compute;
  c.threaded = true;
  if (*peer) c.peers = {peer};
  c.setup = [](ThreadPool& pool) {
    auto m = model<Model, C>();
    auto pixels = std::make_shared<Tensor<float, 3>>(Tensor<float, 3>({3, C.image_size, C.image_size}));
    for (std::int64_t i = 0; i < pixels->size(); ++i) pixels->data()[i] = 0.002f * static_cast<float>(i % 997) - 1.0f;
    auto out = std::make_shared<Tensor<float, 2>>(Tensor<float, 2>({C.num_patches(), C.width}));
    return std::function<void()>([m, pixels, out, &pool] {
      m->forward(std::as_const(*pixels).view(), out->view(), pool);
      bench::do_not_optimize(out->data()[0]);
    });
  };
  bench::registry().push_back(std::move(c));
}

void add_all() {
  using vision::SiglipVit;
  add_case<SiglipVit<policies::XsimdF32>>("xsimd");
  add_case<SiglipVit<policies::HwyF32>>("hwy");
  add_case<SiglipVit<policies::XsimdBF16>>("xsimd");
  add_case<SiglipVit<policies::HwyBF16>>("hwy");
  add_case<SiglipVit<policies::XsimdF32, vision::kSiglipLarge16_384>>("xsimd-preset", "xsimd");
  add_case<SiglipVit<policies::HwyF32>, vision::kSiglipSo400m14_384>("hwy");
  add_case<SiglipVit<policies::HwyQ8>>("hwy");
  add_case<SiglipVit<policies::HwyQ4>>("hwy");
  add_case<SiglipVit<policies::HwyQ8>, vision::kSiglipSo400m14_384>("hwy");
  add_case<SiglipVit<policies::HwyQ4>, vision::kSiglipSo400m14_384>("hwy");
}

DSVL_BENCH_REGISTER(add_all());
}  // namespace
