// GEMM c = a · wᵀ at the prefill and image-encoder shapes of DeepSeek-VL (M x N x K), f32, bf16
// and quantized weights (q8, q4; q8-g128: q8 in groups of 128), and bf16 products (hwy-bf16:
// hwy_bf16_tag), against OpenBLAS sgemm on an f32 copy of the same weights and against oneDNN's
// matmul at the nearest product type (f32, bf16, int8).
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include "bench.hpp"
#include "weights.hpp"
#include "dsvl/dsvl.hpp"

#ifdef DSVL_BENCH_WITH_OPENBLAS
#include <cblas.h>
#endif
#ifdef DSVL_BENCH_WITH_ONEDNN
#include <omp.h>

#include <dnnl.hpp>
#endif

namespace {
using namespace dsvl;

struct Shape {
  std::int64_t M, N, K;
  const char* what;
};
const Shape kShapes[] = {
    {576, 2048, 2048, "VL-1.3B attn"}, {576, 5632, 2048, "VL-1.3B up"},  {576, 2048, 5632, "VL-1.3B down"},
    {576, 1024, 1024, "SigLIP-L attn"}, {576, 4096, 1024, "SigLIP-L fc1"}, {4096, 2304, 768, "SAM-B qkv"},
    {4096, 768, 768, "SAM-B proj"},     {4900, 768, 768, "SAM-B window"},
};
const Shape kScalarShape = {64, 256, 256, "small"};

std::string shape_name(const Shape& s) {
  return std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K) + " (" + s.what + ")";
}

// q8 with one scale per 128 weights: closer to oneDNN's one scale per column (its int8 matmul has
// no finer groups), so the two int8 kernels are compared at about the same scale work.
constexpr int kCoarseGroup = 128;

// Operands shared by every case of one shape (the driver builds all cases before timing any).
struct Operands {
  Tensor<float, 2> a, w, c;
  Tensor<bf16, 2> w_bf16;
  std::tuple<std::optional<QuantMatrix<q8<kQuantGroup>>>, std::optional<QuantMatrix<q4<kQuantGroup>>>,
             std::optional<QuantMatrix<q8<kCoarseGroup>>>>
      quantized;  // made on first use

  template <class W>
  auto weights() {
    if constexpr (std::is_same_v<W, float>) return std::as_const(w).view();
    else if constexpr (std::is_same_v<W, bf16>) return std::as_const(w_bf16).view();
    else {
      auto& m = std::get<std::optional<QuantMatrix<W>>>(quantized);
      if (!m)
        m = QuantMatrix<W>::from_rows(w.shape(0), w.shape(1), [this](std::int64_t n, float* out) {
          std::copy_n(w.data() + n * w.shape(1), w.shape(1), out);
        });
      return m->view();
    }
  }
};
std::shared_ptr<Operands> operands(const Shape& s) {
  static std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, std::shared_ptr<Operands>> cache;
  auto& o = cache[{s.M, s.N, s.K}];
  if (!o) {
    o = std::make_shared<Operands>(Operands{Tensor<float, 2>({s.M, s.K}), Tensor<float, 2>({s.N, s.K}),
                                            Tensor<float, 2>({s.M, s.N}), Tensor<bf16, 2>({s.N, s.K}), {}});
    for (std::int64_t i = 0; i < o->a.size(); ++i) o->a.data()[i] = 0.001f * static_cast<float>(i % 997) - 0.5f;
    for (std::int64_t i = 0; i < o->w.size(); ++i) {
      o->w_bf16.data()[i] = bf16::from_float(0.002f * static_cast<float>(i % 1009) - 1.0f);
      o->w.data()[i] = o->w_bf16.data()[i].to_float();
    }
  }
  return o;
}

// The peers of a dsvl GEMM: OpenBLAS sgemm, and oneDNN with the products dsvl's weight type maps to.
std::vector<std::string> peers_of([[maybe_unused]] const std::string& dtype) {
  std::vector<std::string> peers;
#ifdef DSVL_BENCH_WITH_OPENBLAS
  peers.push_back("openblas");
#endif
#ifdef DSVL_BENCH_WITH_ONEDNN
  peers.push_back(dtype == "f32" ? "onednn" : dtype == "bf16" ? "onednn-bf16" : "onednn-int8");
#endif
  return peers;
}

// w_bytes: the bytes of the whole weight matrix as the case stores it.
bench::Case make_case(const Shape& s, const char* impl, const char* dtype, double w_bytes) {
  bench::Case c;
  c.op = "gemm";
  c.impl = impl;
  c.dtype = dtype;
  c.shape = shape_name(s);
  c.flops = 2.0 * s.M * s.N * s.K;
  c.bytes = 4.0 * s.M * s.K + w_bytes + 4.0 * s.M * s.N;
  c.bound = bench::Bound::compute;
  c.threaded = true;
  c.summary = s.M == 576 && s.N == 2048 && s.K == 2048;
  c.peers = peers_of(dtype);
  return c;
}

template <class Tag, class W>
void add_case(const Shape& s, const char* impl, const char* dtype) {
  bench::Case c = make_case(s, impl, dtype, bench::matrix_bytes<W>(s.N, s.K));
  c.threaded = !std::is_same_v<Tag, scalar_tag>;
  c.setup = [s](ThreadPool& pool) {
    auto o = operands(s);
    const auto w = o->template weights<W>();
    return std::function<void()>([o, w, &pool] {
      kernels::gemm(Tag{}, std::as_const(o->a).view(), w, View<const float, 1>{}, o->c.view(), pool);
    });
  };
  bench::registry().push_back(std::move(c));
}

#ifdef DSVL_BENCH_WITH_OPENBLAS
void add_openblas_case(const Shape& s) {
  bench::Case c = make_case(s, "openblas", "f32", bench::matrix_bytes<float>(s.N, s.K));
  c.peers.clear();
  c.setup = [s](ThreadPool& pool) {
    auto o = operands(s);
    const int threads = pool.size();
    return std::function<void()>([o, s, threads] {
      openblas_set_num_threads(threads);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s.M), static_cast<int>(s.N),
                  static_cast<int>(s.K), 1.0f, o->a.data(), static_cast<int>(s.K), o->w.data(), static_cast<int>(s.K),
                  0.0f, o->c.data(), static_cast<int>(s.N));
    });
  };
  bench::registry().push_back(std::move(c));
}
#endif

#ifdef DSVL_BENCH_WITH_ONEDNN
// oneDNN's matmul primitive, its weights reordered once into the blocked layout it prefers (its
// fastest use). Its activations come already in the product type (bf16, u8), so the conversion
// that dsvl's hwy-bf16 and int8 GEMMs time is left out of oneDNN's figure; its int8 product scales
// per output column (oneDNN 2.6 has no per-group scales), less work than q8's groups of 32.
void add_onednn_case(const Shape& s, const char* impl, const char* dtype, dnnl::memory::data_type a_type,
                     dnnl::memory::data_type w_type) {
  bench::Case c = make_case(s, impl, dtype,
                            static_cast<double>(dnnl::memory::data_type_size(w_type)) * static_cast<double>(s.N * s.K));
  c.peers.clear();
  c.setup = [s, a_type, w_type](ThreadPool& pool) {
    using tag = dnnl::memory::format_tag;
    struct State {
      dnnl::engine engine{dnnl::engine::kind::cpu, 0};
      dnnl::stream stream{engine};
      dnnl::memory a, w, c;
      dnnl::matmul matmul;
    };
    auto st = std::make_shared<State>();
    const dnnl::memory::desc a_md({s.M, s.K}, a_type, tag::ab), c_md({s.M, s.N}, dnnl::memory::data_type::f32, tag::ab);
    const dnnl::memory::desc w_any({s.K, s.N}, w_type, tag::any), w_rows({s.K, s.N}, w_type, tag::ba);  // w: N x K
    dnnl::primitive_attr attr;
    if (w_type == dnnl::memory::data_type::s8) attr.set_output_scales(1 << 1, std::vector<float>(s.N, 1e-3f));
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_any, c_md), attr, st->engine);
    st->a = dnnl::memory(a_md, st->engine);
    st->c = dnnl::memory(c_md, st->engine);
    st->w = dnnl::memory(pd.weights_desc(), st->engine);
    dnnl::memory w_plain(w_rows, st->engine);
    // Operand bytes: any finite values do; a byte pattern that is small in every type.
    std::memset(st->a.get_data_handle(), 0x11, a_md.get_size());
    std::memset(w_plain.get_data_handle(), 0x11, w_rows.get_size());
    dnnl::reorder(w_plain, st->w).execute(st->stream, w_plain, st->w);
    st->stream.wait();
    st->matmul = dnnl::matmul(pd);
    const int threads = pool.size();
    return std::function<void()>([st, threads] {
      omp_set_num_threads(threads);
      st->matmul.execute(st->stream, {{DNNL_ARG_SRC, st->a}, {DNNL_ARG_WEIGHTS, st->w}, {DNNL_ARG_DST, st->c}});
      st->stream.wait();
    });
  };
  bench::registry().push_back(std::move(c));
}
#endif

void add_shape(const Shape& s, bool with_scalar) {
  if (with_scalar) {
    add_case<scalar_tag, float>(s, "scalar", "f32");
    add_case<scalar_tag, bf16>(s, "scalar", "bf16");
  }
  add_case<xsimd_tag<>, float>(s, "xsimd", "f32");
  add_case<xsimd_tag<>, bf16>(s, "xsimd", "bf16");
  add_case<hwy_tag, float>(s, "hwy", "f32");
  add_case<hwy_tag, bf16>(s, "hwy", "bf16");
  add_case<hwy_bf16_tag, bf16>(s, "hwy-bf16", "bf16");
  add_case<hwy_tag, q8<kQuantGroup>>(s, "hwy", "q8");
  add_case<hwy_tag, q4<kQuantGroup>>(s, "hwy", "q4");
  add_case<hwy_tag, q8<kCoarseGroup>>(s, "hwy", "q8-g128");
#ifdef DSVL_BENCH_WITH_OPENBLAS
  add_openblas_case(s);
#endif
#ifdef DSVL_BENCH_WITH_ONEDNN
  using dt = dnnl::memory::data_type;
  add_onednn_case(s, "onednn", "f32", dt::f32, dt::f32);
  add_onednn_case(s, "onednn-bf16", "bf16", dt::bf16, dt::bf16);
  add_onednn_case(s, "onednn-int8", "int8", dt::u8, dt::s8);
#endif
}

DSVL_BENCH_REGISTER(add_shape(kScalarShape, true); for (const Shape& s : kShapes) add_shape(s, false));
}  // namespace
