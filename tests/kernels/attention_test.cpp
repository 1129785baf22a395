#include "dsvl/kernels/attention.hpp"

#include <array>
#include <cmath>

#include "kernels/kernel_test.hpp"

using namespace dsvl;
using namespace dsvl::test;
using dsvl::kernels::SoftmaxMask;

namespace {

struct AttentionShape {
  const char* name;
  std::int64_t T, S, H, Hkv, Dh;
  SoftmaxMask mask;
  std::int64_t Dv = -1;  // the value head dim; -1: Dh
  std::int64_t dv() const { return Dv < 0 ? Dh : Dv; }
};

// Causal prefill (offset 0), decode (T = 1 after a long past), chunked prefill, MHA and GQA,
// non-causal (vision) with T != S, key padding, empty sizes, blocks of queries not a multiple of
// the query block, odd head dims, sequences over several blocks of keys with head dims that are
// not a multiple of any vector length.
const std::vector<AttentionShape> kShapes = {
    {"prefill GQA", 37, 37, 4, 2, 17, {0, -1}},
    {"prefill MHA", 5, 5, 3, 3, 8, {0, -1}},
    {"decode long past", 1, 300, 8, 2, 64, {299, -1}},
    {"chunked prefill", 70, 131, 2, 1, 33, {61, -1}},
    {"one head", 1, 1, 1, 1, 1, {0, -1}},
    {"non-causal square", 50, 50, 4, 4, 16, {-1, -1}},
    {"non-causal cross", 7, 20, 6, 3, 5, {-1, -1}},
    {"key padding", 10, 10, 2, 2, 7, {-1, 6}},
    {"causal and padding", 9, 12, 2, 1, 3, {3, 8}},
    {"no keys", 3, 0, 2, 1, 4, {-1, -1}},
    {"no queries", 0, 5, 2, 1, 4, {0, -1}},
    {"head dim 0", 3, 3, 2, 1, 0, {0, -1}},
    {"MLA expanded (Dv < Dk)", 21, 21, 4, 4, 24, {0, -1}, 16},
    {"MLA latent decode (one key head, Dv < Dk)", 1, 40, 6, 1, 36, {39, -1}, 32},
    {"Dv > Dk", 35, 50, 2, 1, 8, {15, -1}, 20},
    {"decode, key padding, odd head dims", 1, 33, 4, 4, 13, {32, 20}, 11},
    {"decode GQA, Dv > Dk", 1, 70, 6, 2, 9, {69, -1}, 19},
    {"causal over several key blocks", 100, 230, 3, 1, 72, {130, -1}},
    {"non-causal over several key blocks, padded", 70, 200, 2, 2, 12, {-1, 150}, 72},
};

// Naive attention in double precision: the definition of the kernel's contract.
std::vector<double> naive_attention(const AttentionShape& c, const std::vector<float>& q, std::int64_t q_row,
                                    const std::vector<float>& k, const std::vector<float>& v, std::int64_t kv_row,
                                    double scale) {
  const std::int64_t Dv = c.dv();
  std::vector<double> out(static_cast<std::size_t>(c.T * c.H * Dv), 0.0);
  const std::int64_t group = c.H / c.Hkv;
  for (std::int64_t t = 0; t < c.T; ++t) {
    std::int64_t n = c.S;
    if (c.mask.valid >= 0) n = std::min(n, c.mask.valid);
    if (c.mask.causal_offset >= 0) n = std::min(n, t + c.mask.causal_offset + 1);
    for (std::int64_t h = 0; h < c.H; ++h) {
      const std::int64_t g = h / group;
      std::vector<double> z(static_cast<std::size_t>(n));
      double m = -INFINITY;
      for (std::int64_t s = 0; s < n; ++s) {
        double dot = 0;
        for (std::int64_t d = 0; d < c.Dh; ++d)
          dot += double(q[t * q_row + h * c.Dh + d]) * k[s * kv_row + g * c.Dh + d];
        z[s] = scale * dot;
        m = std::max(m, z[s]);
      }
      double sum = 0;
      for (auto& e : z) sum += (e = std::exp(e - m));
      for (std::int64_t s = 0; s < n; ++s)
        for (std::int64_t d = 0; d < Dv; ++d)
          out[(t * c.H + h) * Dv + d] += z[s] / sum * v[s * kv_row + g * Dv + d];
    }
  }
  return out;
}

// KV: the element type of k and v (f32, or bf16 as in a bf16 KV cache: the reference then sees
// the same bf16 values, widened).
template <class Tag, class KV = float>
double check_attention_shape(const AttentionShape& c, ThreadPool& pool) {
  // q is a slice of a wider row (as when q, k and v come out of one projection) and k, v are the
  // first S rows of a cache with room for more: every stride differs from the packed one.
  const std::int64_t Dv = c.dv();
  const std::int64_t q_row = c.H * c.Dh + 3, kv_row = c.Hkv * std::max(c.Dh, Dv) + 5, capacity = c.S + 4;
  std::vector<float> q(static_cast<std::size_t>(std::max<std::int64_t>(c.T * q_row, 1)));
  std::vector<float> k(static_cast<std::size_t>(capacity * kv_row)), v(k.size());
  fill_uniform(q.data(), static_cast<std::int64_t>(q.size()));
  fill_uniform(k.data(), static_cast<std::int64_t>(k.size()));
  fill_uniform(v.data(), static_cast<std::int64_t>(v.size()));
  std::vector<KV> k_stored(k.size()), v_stored(v.size());
  for (std::size_t i = 0; i < k.size(); ++i) {
    k_stored[i] = from_f32<KV>(k[i]);
    v_stored[i] = from_f32<KV>(v[i]);
    k[i] = to_f32(k_stored[i]);
    v[i] = to_f32(v_stored[i]);
  }
  const float scale = c.Dh > 0 ? 1.0f / std::sqrt(static_cast<float>(c.Dh)) : 1.0f;
  std::vector<float> got(static_cast<std::size_t>(std::max<std::int64_t>(c.T * c.H * Dv, 1)), NAN);

  const View<const float, 3> qv(q.data(), {c.T, c.H, c.Dh}, {q_row, c.Dh, 1});
  const View<const KV, 3> kv(k_stored.data(), {c.S, c.Hkv, c.Dh}, {kv_row, c.Dh, 1});
  const View<const KV, 3> vv(v_stored.data(), {c.S, c.Hkv, Dv}, {kv_row, Dv, 1});
  const View<float, 3> ov(got.data(), {c.T, c.H, Dv});
  kernels::attention(Tag{}, qv, kv, vv, c.mask, scale, ov, pool);

  const auto want = naive_attention(c, q, q_row, k, v, kv_row, scale);
  // Inputs lie in [-1, 1]. Each scaled score scale * q·k is a sum of Dh products in f32, off by at
  // most gamma_Dh * scale * Dh (gamma_n ~ n u, u = 2^-24); a score error d changes each softmax
  // weight by a relative 2d at most, and exp and the normalisation add a few ulp; the weighted sum
  // of S values in [-1, 1] adds gamma_S. So |out - exact| <= (2 Dh^2 scale + S + 16) u.
  const double u = std::ldexp(1.0, -24);
  const double tol = (2.0 * c.Dh * c.Dh * scale + c.S + 16) * u;
  double worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
  INFO(c.name << " [" << Tag::name << "]: max abs error " << worst << ", bound " << tol);
  CHECK(worst <= tol);
  return worst / tol;
}

template <class Tag, class KV = float>
void check_all_shapes() {
  ThreadPool one(1), three(3);
  double ratio = 0;
  for (const auto& c : kShapes) {
    ratio = std::max(ratio, check_attention_shape<Tag, KV>(c, one));
    ratio = std::max(ratio, check_attention_shape<Tag, KV>(c, three));
  }
  MESSAGE("attention [", Tag::name, ", ", std::string(sizeof(KV) == 4 ? "f32" : "bf16"),
          " k and v]: largest error / bound over all shapes ", ratio);
}

}  // namespace

// Attention with decomposed relative positions (RelPos2d) on a side x side grid, q, k and v out
// of one projection row as in SAM, against the definition in double precision.
template <class Tag>
double check_rel_pos(std::int64_t side, std::int64_t H, std::int64_t Dh, ThreadPool& pool) {
  CAPTURE(side);
  CAPTURE(H);
  CAPTURE(Dh);
  const std::int64_t T = side * side, E = 2 * side - 1, row = 3 * H * Dh + 2, ld_rel = Dh + 3;
  std::vector<float> qkv(static_cast<std::size_t>(T * row)), rel_h(static_cast<std::size_t>(E * ld_rel)),
      rel_w(rel_h.size()), got(static_cast<std::size_t>(T * H * Dh), NAN);
  fill_uniform(qkv.data(), static_cast<std::int64_t>(qkv.size()));
  fill_uniform(rel_h.data(), static_cast<std::int64_t>(rel_h.size()));
  fill_uniform(rel_w.data(), static_cast<std::int64_t>(rel_w.size()));
  const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));
  const kernels::RelPos2d rel{View<const float, 2>(rel_h.data(), {E, Dh}, {ld_rel, 1}),
                              View<const float, 2>(rel_w.data(), {E, Dh}, {ld_rel, 1})};
  kernels::attention(Tag{}, View<const float, 3>(qkv.data(), {T, H, Dh}, {row, Dh, 1}),
                     View<const float, 3>(qkv.data() + H * Dh, {T, H, Dh}, {row, Dh, 1}),
                     View<const float, 3>(qkv.data() + 2 * H * Dh, {T, H, Dh}, {row, Dh, 1}), rel, scale,
                     View<float, 3>(got.data(), {T, H, Dh}), pool);
  const auto dot = [&](const float* a, const float* b) {
    double sum = 0;
    for (std::int64_t d = 0; d < Dh; ++d) sum += double(a[d]) * b[d];
    return sum;
  };
  double worst = 0;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h) {
      const float* q = qkv.data() + t * row + h * Dh;
      std::vector<double> z(static_cast<std::size_t>(T));
      double m = -INFINITY, sum = 0;
      for (std::int64_t s = 0; s < T; ++s) {
        z[s] = scale * dot(q, qkv.data() + s * row + H * Dh + h * Dh) +
               dot(q, rel_h.data() + (t / side - s / side + side - 1) * ld_rel) +
               dot(q, rel_w.data() + (t % side - s % side + side - 1) * ld_rel);
        m = std::max(m, z[s]);
      }
      for (auto& e : z) sum += (e = std::exp(e - m));
      for (std::int64_t d = 0; d < Dh; ++d) {
        double o = 0;
        for (std::int64_t s = 0; s < T; ++s) o += z[s] / sum * qkv[s * row + 2 * H * Dh + h * Dh + d];
        worst = std::max(worst, std::fabs(o - got[(t * H + h) * Dh + d]));
      }
    }
  // As check_attention_shape's bound, with the two relative terms (unscaled sums of Dh products
  // each) in the score: |score error| <= (scale + 2) Dh^2 u, then the same softmax argument.
  const double u = std::ldexp(1.0, -24), tol = (2.0 * (scale + 2) * Dh * Dh + T + 16) * u;
  INFO("relative positions [" << Tag::name << "]: max abs error " << worst << ", bound " << tol);
  CHECK(worst <= tol);
  return worst / tol;
}

TEST_CASE_TEMPLATE("attention with decomposed relative positions matches a double-precision reference", Tag,
                   scalar_tag, xsimd_tag<>, hwy_tag) {
  ThreadPool one(1), three(3);
  double ratio = 0;
  // One token; a small window; more queries than a query block and more keys than a key block;
  // SAM's window (14 x 14, head dim 64).
  for (auto [side, H, Dh] : {std::array<std::int64_t, 3>{1, 2, 4}, {3, 3, 5}, {11, 2, 17}, {14, 2, 64}})
    for (ThreadPool* pool : {&one, &three}) ratio = std::max(ratio, check_rel_pos<Tag>(side, H, Dh, *pool));
  MESSAGE("attention with relative positions [", Tag::name, "]: largest error / bound ", ratio);
}

TEST_CASE("attention with relative positions rejects tables that do not fit the grid") {
  std::vector<float> x(9 * 4 * 2, 0.5f), rel(5 * 4, 0.1f), out(9 * 4);
  const View<const float, 3> q(x.data(), {9, 1, 4});
  const View<float, 3> o(out.data(), {9, 1, 4});
  const auto named = doctest::Contains("kernels::attention");
  const View<const float, 2> r5(rel.data(), {5, 4}), r3(rel.data(), {3, 4}), r5n(rel.data(), {5, 2}, {4, 1});
  CHECK_NOTHROW(kernels::attention(scalar_tag{}, q, q, q, kernels::RelPos2d{r5, r5}, 1.0f, o));
  CHECK_THROWS_WITH_AS(kernels::attention(hwy_tag{}, q, q, q, kernels::RelPos2d{r3, r3}, 1.0f, o), named,
                       dsvl::Error);  // a 2 x 2 grid is 4 tokens, not 9
  CHECK_THROWS_WITH_AS(kernels::attention(hwy_tag{}, q, q, q, kernels::RelPos2d{r5, r3}, 1.0f, o), named,
                       dsvl::Error);  // rel_w differs from rel_h
  CHECK_THROWS_WITH_AS(kernels::attention(hwy_tag{}, q, q, q, kernels::RelPos2d{r5n, r5n}, 1.0f, o), named,
                       dsvl::Error);  // head dim 2, the queries have 4
}

TEST_CASE("attention matches a double-precision reference (scalar)") { check_all_shapes<scalar_tag>(); }
TEST_CASE("attention matches a double-precision reference (xsimd)") { check_all_shapes<xsimd_tag<>>(); }
TEST_CASE("attention matches a double-precision reference (hwy)") { check_all_shapes<hwy_tag>(); }
TEST_CASE_TEMPLATE("attention over bf16 keys and values matches a double-precision reference", Tag, scalar_tag,
                   xsimd_tag<>, hwy_tag) {
  check_all_shapes<Tag, bf16>();
}

TEST_CASE("attention: a decode step equals the last row of the full causal prefill") {
  const std::int64_t S = 45, H = 4, Hkv = 2, Dh = 16;
  std::vector<float> q(S * H * Dh), k(S * Hkv * Dh), v(S * Hkv * Dh), full(S * H * Dh), step(H * Dh);
  fill_uniform(q.data(), S * H * Dh);
  fill_uniform(k.data(), S * Hkv * Dh);
  fill_uniform(v.data(), S * Hkv * Dh);
  const View<const float, 3> kv(k.data(), {S, Hkv, Dh}), vv(v.data(), {S, Hkv, Dh});
  kernels::attention(hwy_tag{}, View<const float, 3>(q.data(), {S, H, Dh}), kv, vv, SoftmaxMask{0, -1}, 0.25f,
                     View<float, 3>(full.data(), {S, H, Dh}));
  kernels::attention(hwy_tag{}, View<const float, 3>(q.data() + (S - 1) * H * Dh, {1, H, Dh}), kv, vv,
                     SoftmaxMask{S - 1, -1}, 0.25f, View<float, 3>(step.data(), {1, H, Dh}));
  DSVL_CHECK_CLOSE(step.data(), full.data() + (S - 1) * H * Dh, H * Dh, 1e-6, 0.0);
}

TEST_CASE("attention rejects inconsistent shapes") {
  std::vector<float> buf(64);
  const View<const float, 3> q(buf.data(), {2, 3, 4}), k(buf.data(), {2, 2, 4});
  const View<float, 3> out(buf.data(), {2, 3, 4});
  CHECK_THROWS_AS(kernels::attention(scalar_tag{}, q, k, k, SoftmaxMask{}, 1.0f, out), dsvl::Error);
  const View<const float, 3> k5(buf.data(), {2, 1, 5});
  CHECK_THROWS_AS(kernels::attention(scalar_tag{}, q, k5, k5, SoftmaxMask{}, 1.0f, out), dsvl::Error);
}
