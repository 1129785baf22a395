// Weight declarations: loading (borrowed or converted), the report of bad checkpoints, and the
// other walks over one declaration; quantized matrices saved as stored and loaded in place.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "dsvl/io/safetensors.hpp"  // io::Checkpoint and the walks that read and write it
#include "dsvl/nn/weights.hpp"

namespace {

namespace fs = std::filesystem;
using dsvl::bf16;
using dsvl::Tensor;
using dsvl::nn::Weight;

template <class W>
struct Mlp {
  std::int64_t d = 0, f = 0;
  Weight<W, 2> up, down;
  Weight<W, 1> bias;
  template <class V>
  void visit(V& v) {
    v.weight("up.weight", up, {f, d});
    v.weight("up.bias", bias, {f});
    v.weight("down.weight", down, {d, f});
  }
};

template <class W>
struct Net {
  Weight<W, 2> embed;
  std::vector<Mlp<W>> blocks;
  explicit Net(int n) {
    for (int i = 0; i < n; ++i) blocks.push_back(Mlp<W>{3, 5, {}, {}, {}});
  }
  template <class V>
  void visit(V& v) {
    v.weight("embed.weight", embed, {7, 3});
    v.layers("blocks", blocks);
    v.unused("pool.");
  }
};

struct TempFile {
  fs::path path = fs::temp_directory_path() / ("dsvl_weights_" + std::to_string(::getpid()) + ".safetensors");
  ~TempFile() { fs::remove(path); }
};

// A checkpoint with the declared tensors of Net(2) in f32, plus what `edit` does.
template <class Edit>
void write_net(const fs::path& path, Edit edit) {
  dsvl::io::SafeTensorsWriter w;
  Net<float> net(2);
  dsvl::nn::WeightRandomInit init(7);
  net.visit(init);
  dsvl::nn::WeightNames names;
  net.visit(names);
  std::vector<std::pair<std::string, Tensor<float, 2>>> extra;
  dsvl::nn::WeightSaver saver(w);
  edit(w, net, saver);
  w.write(path);
}

}  // namespace

TEST_CASE("weights: names, count and saving walk the one declaration") {
  Net<float> net(2);
  dsvl::nn::WeightNames names;
  net.visit(names);
  std::vector<std::string> got;
  for (const auto& e : names.entries) got.push_back(e.name);
  CHECK(got == std::vector<std::string>{"embed.weight", "blocks.0.up.weight", "blocks.0.up.bias",
                                        "blocks.0.down.weight", "blocks.1.up.weight",
                                        "blocks.1.up.bias", "blocks.1.down.weight"});
  CHECK(names.entries[1].shape == std::vector<std::int64_t>{5, 3});
  dsvl::nn::WeightCount count;
  net.visit(count);
  CHECK(count.count == 7 * 3 + 2 * (15 + 5 + 15));
}

TEST_CASE("weights: loading borrows matching dtypes and converts the others") {
  TempFile f;
  write_net(f.path, [](auto&, auto& net, auto& saver) { net.visit(saver); });
  const auto ckpt = dsvl::io::Checkpoint::open(f.path);

  Net<float> a(2);
  dsvl::nn::WeightLoader load(ckpt);
  a.visit(load);
  load.finish();
  CHECK(load.borrowed() == 7);
  CHECK(a.embed.borrowed());
  CHECK(a.blocks[1].down.shape(1) == 5);

  Net<bf16> b(2);
  dsvl::nn::WeightLoader load_bf16(ckpt);
  b.visit(load_bf16);
  load_bf16.finish();
  CHECK(load_bf16.borrowed() == 0);
  for (std::int64_t i = 0; i < 5; ++i)
    CHECK(b.blocks[0].bias.view()(i) == bf16::from_float(a.blocks[0].bias.view()(i)));

  // Random initialisation is seeded: the same seed gives the same weights.
  Net<float> c(2);
  dsvl::nn::WeightRandomInit init(7);
  c.visit(init);
  CHECK(c.blocks[1].up.view()(4, 2) == a.blocks[1].up.view()(4, 2));
}

TEST_CASE("weights: a bad checkpoint gets one error listing every problem by name") {
  TempFile f;
  write_net(f.path, [](auto& w, auto& net, auto&) {
    Tensor<float, 2> wrong({5, 4});
    w.add("embed.weight", net.embed.view());
    w.add("blocks.0.up.weight", wrong);           // wrong shape
    w.add("blocks.0.up.bias", net.blocks[0].bias.view());
    w.add("blocks.0.down.weight", net.blocks[0].down.view());
    w.add("blocks.1.up.weight", net.blocks[1].up.view());
    // blocks.1.up.bias missing
    w.add("blocks.1.down.weight", net.blocks[1].down.view());
    w.add("blocks.2.up.weight", net.blocks[1].up.view());  // unexpected
    w.add("pool.proj.weight", net.blocks[1].up.view());    // declared unused
    Tensor<std::int64_t, 1> ids({3});
    w.add("ids", ids);  // unexpected
  });
  const auto ckpt = dsvl::io::Checkpoint::open(f.path);
  Net<float> n(2);
  dsvl::nn::WeightLoader load(ckpt);
  n.visit(load);
  try {
    load.finish();
    FAIL("no error");
  } catch (const dsvl::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find(f.path.string() + ": 4 problem(s) with the weights:") == 0);
    CHECK(msg.find("tensor 'blocks.0.up.weight' has shape [5, 4], expected [5, 3]") != std::string::npos);
    CHECK(msg.find("missing tensor 'blocks.1.up.bias' [5]") != std::string::npos);
    CHECK(msg.find("unexpected tensor 'blocks.2.up.weight'") != std::string::npos);
    CHECK(msg.find("unexpected tensor 'ids'") != std::string::npos);
    CHECK(msg.find("pool.proj") == std::string::npos);
  }
  // A prefix scopes loading to a part of the checkpoint.
  Mlp<float> m{3, 5, {}, {}, {}};
  dsvl::nn::WeightLoader part(ckpt, "blocks.0.");
  m.visit(part);
  CHECK_THROWS_WITH(part.finish("blocks.0."), doctest::Contains("1 problem(s)"));
}

TEST_CASE("weights: a NaN or infinite weight is reported with its file, tensor and index") {
  // One bad element in "blocks.1.up.weight" ([5, 3]) at [3, 2], stored as f32, bf16 or f16, and
  // loaded in place (the same dtype) or converted.
  const float bad[] = {NAN, INFINITY, -INFINITY};
  const char* said[] = {"nan", "inf", "-inf"};
  for (int k = 0; k < 3; ++k) {
    for (const dsvl::DType dt : {dsvl::DType::f32, dsvl::DType::bf16, dsvl::DType::f16}) {
      CAPTURE(said[k]);
      CAPTURE(dsvl::dtype_name(dt));
      TempFile f;
      write_net(f.path, [&](auto& w, auto& net, auto&) {
        dsvl::nn::WeightNames names;
        net.visit(names);
        for (const auto& e : names.entries) {
          Tensor<float, 1> flat({static_cast<std::int64_t>(e.shape[0] * (e.shape.size() > 1 ? e.shape[1] : 1))});
          if (e.name == "blocks.1.up.weight") flat.data()[3 * 3 + 2] = bad[k];
          dsvl::visit_dtype(dt, [&](auto tag) {
            using S = decltype(tag);
            if constexpr (std::is_same_v<S, float> || std::is_same_v<S, bf16> || std::is_same_v<S, dsvl::f16>) {
              std::vector<S> v(static_cast<std::size_t>(flat.size()));
              for (std::size_t i = 0; i < v.size(); ++i) v[i] = dsvl::from_f32<S>(flat.data()[i]);
              w.add_deferred(e.name, dt, e.shape,
                             [v](std::span<std::byte> out) { std::memcpy(out.data(), v.data(), out.size()); });
            }
          });
        }
      });
      const auto ckpt = dsvl::io::Checkpoint::open(f.path);
      const std::string expected =
          "tensor 'blocks.1.up.weight' holds the non-finite weight " + std::string(said[k]) + " at element 11 [3, 2]";
      for (int as_bf16 = 0; as_bf16 < 2; ++as_bf16) {
        std::string msg;
        try {
          if (as_bf16) dsvl::nn::load_weights(*std::make_unique<Net<bf16>>(2), ckpt);
          else dsvl::nn::load_weights(*std::make_unique<Net<float>>(2), ckpt);
        } catch (const dsvl::Error& e) {
          msg = e.what();
        }
        CHECK(msg == f.path.string() + ": 1 problem(s) with the weights:\n  " + expected);
      }
    }
  }
  // Through a directory, the message names the file that holds the tensor.
  const fs::path dir = fs::temp_directory_path() / ("dsvl_weights_dir_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_net(dir / "model.safetensors", [](auto& w, auto& net, auto& saver) {
    net.blocks[0].bias.allocate({5}).data()[4] = INFINITY;
    net.visit(saver);
    (void)w;
  });
  std::string msg;
  try {
    Net<float> n(2);
    dsvl::nn::load_weights(n, dsvl::io::Checkpoint::open(dir));
  } catch (const dsvl::Error& e) {
    msg = e.what();
  }
  fs::remove_all(dir);
  CHECK(msg.find("tensor 'blocks.0.up.bias' in " + (dir / "model.safetensors").string() +
                 " holds the non-finite weight inf at element 4 [4]") != std::string::npos);
}

namespace {
// A quantized matrix (K = 40: a padded last group) beside a float vector.
template <class W>
struct QuantBlock {
  Weight<W, 2> proj;
  Weight<float, 1> norm;
  template <class V>
  void visit(V& v) {
    v.weight("proj.weight", proj, {6, 40});
    v.weight("norm.weight", norm, {40});
  }
};

template <class Block>
void save(Block& block, const fs::path& path) {
  dsvl::io::SafeTensorsWriter w;
  dsvl::nn::WeightSaver saver(w);
  block.visit(saver);
  w.write(path);
}

template <class W>
std::string load_error(const dsvl::io::Checkpoint& ckpt) {
  QuantBlock<W> b;
  dsvl::nn::WeightLoader load(ckpt);
  b.visit(load);
  try {
    load.finish();
  } catch (const dsvl::Error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("weights: quantized matrices are saved as stored and loaded in place") {
  using Q4 = dsvl::q4<32>;
  TempFile f;
  QuantBlock<Q4> a;
  dsvl::nn::WeightRandomInit init(3);
  a.visit(init);
  save(a, f.path);
  const auto ckpt = dsvl::io::Checkpoint::open(f.path);
  CHECK(ckpt.info("proj.weight").dtype == dsvl::DType::u8);
  CHECK(ckpt.info("proj.weight").shape == std::vector<std::int64_t>{6, 32});  // 2 groups of 16 bytes
  CHECK(ckpt.info("proj.weight.scales").shape == std::vector<std::int64_t>{6, 2});

  QuantBlock<Q4> b;
  dsvl::nn::WeightLoader load(ckpt);
  b.visit(load);
  load.finish();
  CHECK(load.borrowed() == 2);
  REQUIRE(b.proj.borrowed());
  CHECK(b.proj.shape(0) == 6);
  CHECK(b.proj.shape(1) == 40);
  CHECK(std::memcmp(b.proj.view().codes(0), a.proj.view().codes(0), 6 * 32) == 0);
  CHECK(std::memcmp(b.proj.view().scales(0), a.proj.view().scales(0), 6 * 2 * sizeof(dsvl::f16)) == 0);
  for (std::int64_t n = 0; n < 6; ++n)
    for (std::int64_t k = 0; k < 40; ++k) CHECK(b.proj.view()(n, k) == a.proj.view()(n, k));

  // Another format, a float policy, or codes without their scales: errors naming the tensor.
  CHECK(load_error<dsvl::q8<32>>(ckpt).find("tensor 'proj.weight' holds quantized codes of shape [6, 32], "
                                            "expected [6, 64] for [6, 40] in q8<32>") != std::string::npos);
  CHECK(load_error<float>(ckpt).find("tensor 'proj.weight' is stored quantized (U8 codes), expected a "
                                     "floating-point type") != std::string::npos);
  TempFile g;
  g.path += ".codes-only";
  {
    dsvl::io::SafeTensorsWriter w;
    w.add("proj.weight", dsvl::View<const std::uint8_t, 2>(a.proj.view().codes(0), {6, 32}));
    w.add("norm.weight", a.norm.view());
    w.write(g.path);
  }
  CHECK(load_error<Q4>(dsvl::io::Checkpoint::open(g.path))
            .find("missing tensor 'proj.weight.scales' [6, 2] (the scales of 'proj.weight')") != std::string::npos);
}

TEST_CASE("weights: a weight that cannot be quantized is reported with its tensor") {
  QuantBlock<float> a;
  dsvl::nn::WeightRandomInit init(3);
  a.visit(init);
  Tensor<float, 2> proj({6, 40});
  std::copy_n(a.proj.view().data(), proj.size(), proj.data());
  proj.data()[4 * 40 + 35] = NAN;
  TempFile f;
  {
    dsvl::io::SafeTensorsWriter w;
    w.add("proj.weight", proj.view());
    w.add("norm.weight", a.norm.view());
    w.write(f.path);
  }
  const std::string msg = load_error<dsvl::q4<32>>(dsvl::io::Checkpoint::open(f.path));
  CHECK(msg.find(f.path.string() + ": 1 problem(s) with the weights:") == 0);
  CHECK(msg.find("tensor 'proj.weight' cannot be quantized: row 4, group 1 holds the non-finite weight nan") != std::string::npos);
}

TEST_CASE("weights: quantized scales that are not 2-byte aligned in the file are copied") {
  using Q4 = dsvl::q4<32>;
  QuantBlock<Q4> a;
  dsvl::nn::WeightRandomInit init(5);
  a.visit(init);
  TempFile f;
  save(a, f.path);
  // One more space after the header (still valid JSON) puts the data, and so every tensor, at an
  // odd address of the mapping.
  std::string bytes;
  {
    std::ifstream in(f.path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  bytes.insert(8 + header, " ");
  ++header;
  std::memcpy(bytes.data(), &header, 8);
  {
    std::ofstream out(f.path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  const auto ckpt = dsvl::io::Checkpoint::open(f.path);
  REQUIRE(reinterpret_cast<std::uintptr_t>(ckpt.info("proj.weight.scales").bytes.data()) % 2 == 1);
  QuantBlock<Q4> b;
  dsvl::nn::WeightLoader load(ckpt);
  b.visit(load);
  load.finish();
  CHECK_FALSE(b.proj.borrowed());
  CHECK(std::memcmp(b.proj.view().codes(0), a.proj.view().codes(0), 6 * 32) == 0);
  CHECK(std::memcmp(b.proj.view().scales(0), a.proj.view().scales(0), 6 * 2 * sizeof(dsvl::f16)) == 0);
}
