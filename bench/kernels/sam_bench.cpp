// SAM-B ViTDet, DeepSeek-VL 7B's high-resolution tower, on one 1024-px image, random weights,
// Highway, the blocks' matrices in f32, q8 or q4 (vision::SamVit with kSamBDownsample):
//   "blocks and neck": patch and position embedding, the 12 blocks (8 on 14 x 14 windows, 4 global
//     over 4096 tokens, all with relative positions) and the neck: the work of timm's
//     samvit_base_patch16 forward_features (bench/vision/compare_torch.py --tower sam);
//   "forward": SamVit::forward, which adds DeepSeek-VL's HD neck, the resize to 96 x 96 and the
//     two strided convolutions of both branches.
// GFLOP/s counts the blocks' GEMMs and attention products (window blocks on the 70 x 70 padded
// grid) and the neck's two convolutions, about 0.97 TFLOP; the forward row counts the same,
// though its second neck and four strided convolutions add about 3% to the work.
#include <memory>

#include "bench.hpp"
#include "weights.hpp"
#include "dsvl/dsvl.hpp"
#include "dsvl/vision/sam_vit.hpp"

namespace {
using namespace dsvl;

template <class P>
using Sam = vision::SamVit<P>;

template <class P>
std::shared_ptr<Sam<P>> sam() {
  static std::shared_ptr<Sam<P>> m;  // the cases of a policy time the same weights
  if (!m) {
    m = std::make_shared<Sam<P>>(vision::kSamBDownsample);
    nn::WeightRandomInit init(42);
    m->visit(init);
  }
  return m;
}

double blocks_and_neck_flops(const vision::SamConfig& c) {
  const double N = static_cast<double>(c.num_patches()), D = static_cast<double>(c.width);
  const double M = static_cast<double>(c.mlp_dim()), P = static_cast<double>(c.padded_grid() * c.padded_grid());
  const double L = static_cast<double>(c.window_size * c.window_size), C = static_cast<double>(c.prompt_embed_dim);
  double flops = 2 * N * D * 3 * static_cast<double>(c.patch_size * c.patch_size);
  for (std::int64_t i = 0; i < c.layers; ++i) {
    const double T = c.is_global(i) ? N : P;  // attention rows: the grid, or the padded windows
    flops += 2 * T * D * 4 * D + 2 * N * D * 2 * M + 4 * T * (c.is_global(i) ? N : L) * D;
  }
  return flops + 2 * N * C * (D + 9 * C);
}

template <class P>
void add_case(bool full) {
  const vision::SamConfig& cfg = vision::kSamBDownsample;
  bench::Case c;
  c.op = "sam_vit";
  c.impl = "hwy";
  c.dtype = bench::weight_dtype<typename P::weight_type>();
  c.shape = full ? "SAM-B at 1024: 1 image, forward (VL-7B high-res)" : "SAM-B at 1024: 1 image, blocks and neck";
  c.flops = blocks_and_neck_flops(cfg);
  c.bound = bench::Bound::compute;
  c.threaded = true;
  c.setup = [full](ThreadPool& pool) {
    auto m = sam<P>();
    const std::int64_t S = cfg.image_size, N = cfg.num_patches();
    struct State {
      Tensor<float, 3> pixels;
      Tensor<float, 2> x, neck, out;
    };
    auto st = std::make_shared<State>(State{Tensor<float, 3>({3, S, S}), Tensor<float, 2>({N, cfg.width}),
                                            Tensor<float, 2>({cfg.prompt_embed_dim, N}),
                                            Tensor<float, 2>({cfg.num_tokens(), cfg.out_dim()})});
    for (std::int64_t i = 0; i < st->pixels.size(); ++i)
      st->pixels.data()[i] = 0.002f * static_cast<float>(i % 997) - 1.0f;
    return std::function<void()>([m, st, full, &pool] {
      const auto pixels = std::as_const(st->pixels).view();
      if (full) {
        m->forward(pixels, st->out.view(), pool);
        bench::do_not_optimize(st->out.data()[0]);
        return;
      }
      m->embed(pixels, st->x.view(), pool);
      m->add_pos_embed(st->x.view(), pool);
      for (std::int64_t i = 0; i < m->config().layers; ++i) m->block(i, st->x.view(), pool);
      m->neck(std::as_const(st->x).view(), false, st->neck.view(), pool);
      bench::do_not_optimize(st->neck.data()[0]);
    });
  };
  bench::registry().push_back(std::move(c));
}

DSVL_BENCH_REGISTER(add_case<policies::HwyF32>(false); add_case<policies::HwyF32>(true);
                    add_case<policies::HwyQ8>(false); add_case<policies::HwyQ4>(false));
}  // namespace
