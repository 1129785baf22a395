// GEMV y = w · x at the decode shapes of DeepSeek-VL-1.3B (N x K), f32, bf16, q8 and q4 weights,
// against OpenBLAS sgemv. Weights are read from DRAM: each call uses the next of enough distinct copies
// (> 64 MiB in all, several times the 32 MiB L3) that none is still cached when it comes round.
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "bench.hpp"
#include "weights.hpp"
#include "dsvl/dsvl.hpp"

#ifdef DSVL_BENCH_WITH_OPENBLAS
#include <cblas.h>
#endif

namespace {
using namespace dsvl;

struct Shape {
  std::int64_t N, K;
  const char* what;
};
const Shape kShapes[] = {
    {2048, 2048, "VL-1.3B attn"}, {5632, 2048, "VL-1.3B up"}, {2048, 5632, "VL-1.3B down"}, {102400, 2048, "LM head"}};

constexpr double kMinBytes = 96.0 * (1 << 20);

std::string shape_name(const Shape& s) { return std::to_string(s.N) + "x" + std::to_string(s.K) + " (" + s.what + ")"; }

template <class W>
struct MatrixOf {
  using type = Tensor<W, 2>;
  template <class Value>
  static type make(const Shape& s, Value value) {
    Tensor<W, 2> w({s.N, s.K});
    for (std::int64_t j = 0; j < w.size(); ++j) w.data()[j] = from_f32<W>(value(j));
    return w;
  }
};
template <QuantFormat F>
struct MatrixOf<F> {
  using type = QuantMatrix<F>;
  template <class Value>
  static type make(const Shape& s, Value value) {
    return QuantMatrix<F>::from_rows(s.N, s.K, [&](std::int64_t n, float* row) {
      for (std::int64_t k = 0; k < s.K; ++k) row[k] = value(n * s.K + k);
    });
  }
};

template <class W>
struct Operands {
  std::vector<typename MatrixOf<W>::type> w;  // distinct copies, used in turn
  Tensor<float, 1> x, y;
  std::size_t next = 0;
  const typename MatrixOf<W>::type& next_w() {
    next = next + 1 == w.size() ? 0 : next + 1;
    return w[next];
  }
};

template <class W>
std::shared_ptr<Operands<W>> operands(const Shape& s) {
  static std::map<std::pair<std::int64_t, std::int64_t>, std::shared_ptr<Operands<W>>> cache;
  auto& o = cache[{s.N, s.K}];
  if (!o) {
    o = std::make_shared<Operands<W>>();
    const double bytes = bench::matrix_bytes<W>(s.N, s.K);
    const auto copies = static_cast<std::int64_t>(std::max(1.0, std::ceil(kMinBytes / bytes)));
    for (std::int64_t i = 0; i < copies; ++i)
      o->w.push_back(MatrixOf<W>::make(s, [i](std::int64_t j) { return 0.002f * static_cast<float>((j + i) % 1009) - 1.0f; }));
    o->x = Tensor<float, 1>({s.K});
    o->y = Tensor<float, 1>({s.N});
    for (std::int64_t k = 0; k < s.K; ++k) o->x.data()[k] = 0.001f * static_cast<float>(k % 997) - 0.5f;
  }
  return o;
}

template <class W>
bench::Case make_case(const Shape& s, const char* impl, bool threaded) {
  bench::Case c;
  c.op = "gemv";
  c.impl = impl;
  c.dtype = bench::weight_dtype<W>();
  c.shape = shape_name(s);
  c.flops = 2.0 * s.N * s.K;
  c.bytes = bench::matrix_bytes<W>(s.N, s.K) + 4.0 * (s.N + s.K);
  c.bound = bench::Bound::memory;
  c.threaded = threaded;
  c.summary = std::is_same_v<W, bf16> && s.K == 2048 && (s.N == 2048 || s.N == 5632);
#ifdef DSVL_BENCH_WITH_OPENBLAS
  c.peers = {"openblas"};
#endif
  return c;
}

template <class Tag, class W>
void add_case(const Shape& s, const char* impl) {
  bench::Case c = make_case<W>(s, impl, !std::is_same_v<Tag, scalar_tag>);
  c.setup = [s](ThreadPool& pool) {
    auto o = operands<W>(s);
    return std::function<void()>([o, &pool] {
      kernels::gemv(Tag{}, std::as_const(o->x).view(), o->next_w().view(), View<const float, 1>{}, o->y.view(), pool);
    });
  };
  bench::registry().push_back(std::move(c));
}

#ifdef DSVL_BENCH_WITH_OPENBLAS
void add_openblas_case(const Shape& s) {
  bench::Case c = make_case<float>(s, "openblas", true);
  c.peers.clear();
  c.summary = s.K == 2048 && (s.N == 2048 || s.N == 5632);
  c.setup = [s](ThreadPool& pool) {
    auto o = operands<float>(s);
    const int threads = pool.size();
    return std::function<void()>([o, s, threads] {
      openblas_set_num_threads(threads);
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(s.N), static_cast<int>(s.K), 1.0f,
                  o->next_w().data(), static_cast<int>(s.K), o->x.data(), 1, 0.0f, o->y.data(), 1);
    });
  };
  bench::registry().push_back(std::move(c));
}
#endif

void add_shape(const Shape& s) {
  if (s.N == 2048 && s.K == 2048) {
    add_case<scalar_tag, float>(s, "scalar");
    add_case<scalar_tag, bf16>(s, "scalar");
  }
  add_case<xsimd_tag<>, float>(s, "xsimd");
  add_case<xsimd_tag<>, bf16>(s, "xsimd");
  add_case<hwy_tag, float>(s, "hwy");
  add_case<hwy_tag, bf16>(s, "hwy");
  add_case<hwy_tag, q8<kQuantGroup>>(s, "hwy");
  add_case<hwy_tag, q4<kQuantGroup>>(s, "hwy");
#ifdef DSVL_BENCH_WITH_OPENBLAS
  add_openblas_case(s);
#endif
}

DSVL_BENCH_REGISTER(for (const Shape& s : kShapes) add_shape(s));
}  // namespace
