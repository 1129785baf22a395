// Fuzz target for model.safetensors.index.json: io::read_safetensors_index, then io::Checkpoint::open
// of a folder that holds the input as its index and two small shards, a.safetensors (tensors "a0",
// "a1") and b.safetensors ("b0"). Anything wrong must be a dsvl::Error. A weight_map that reads
// names only relative shard files; a checkpoint that opens holds exactly the weight_map's tensors,
// each from the shard the map names.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>

#include "dsvl/core/tensor.hpp"
#include "dsvl/io/safetensors.hpp"
#include "fuzz/temp_dir.hpp"

namespace {

const dsvl_test::FuzzTempDir& temp() {
  static const dsvl_test::FuzzTempDir dir("safetensors-index");
  return dir;
}

void check(bool ok, const char* what, const std::string& name = {}) {
  if (ok) return;
  std::fprintf(stderr, "safetensors_index_fuzz: %s ('%s')\n", what, name.c_str());
  std::abort();
}

void write_shard(const char* file, std::initializer_list<const char*> names) {
  dsvl::io::SafeTensorsWriter w;
  float v = 0;
  for (const char* n : names) {
    dsvl::Tensor<float, 1> t({2});
    t.data()[0] = v++;
    t.data()[1] = v++;
    w.add(n, t);
  }
  w.write(temp().path() / file);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  write_shard("a.safetensors", {"a0", "a1"});
  write_shard("b.safetensors", {"b0"});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto index = temp().write("model.safetensors.index.json", data, size);
  std::map<std::string, std::string> weight_map;
  try {
    weight_map = dsvl::io::read_safetensors_index(index);
  } catch (const dsvl::Error&) {
    return 0;
  }
  for (const auto& [name, shard] : weight_map)
    check(!shard.empty() && std::filesystem::path(shard).is_relative(), "a shard name that is not relative", name);

  std::optional<dsvl::io::Checkpoint> ckpt;
  try {
    ckpt.emplace(dsvl::io::Checkpoint::open(temp().path()));
  } catch (const dsvl::Error&) {
    return 0;
  }
  check(ckpt->size() == weight_map.size(), "the checkpoint's size differs from the weight_map's");
  std::size_t listed = 0;
  for (const auto name : ckpt->names()) {
    const std::string n(name);
    const auto it = weight_map.find(n);
    check(it != weight_map.end(), "a tensor that the weight_map does not name", n);
    const dsvl::io::TensorInfo& t = ckpt->info(name);
    check(t.file == temp().path() / it->second, "a tensor read from another shard", n);
    check(t.bytes.size() == 2 * sizeof(float), "a tensor of the wrong size", n);
    ++listed;
  }
  check(listed == weight_map.size(), "names() lists a tensor twice or misses one");
  return 0;
}
