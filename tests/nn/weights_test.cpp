// Weight declarations: loading (borrowed or converted), the report of bad checkpoints, and the
// other walks over one declaration.
#include <doctest/doctest.h>

#include <array>
#include <filesystem>
#include <string>
#include <vector>

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
