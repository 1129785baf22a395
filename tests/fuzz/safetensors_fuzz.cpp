// Fuzz target for io::SafeTensorsFile: the input is a whole .safetensors file (written to a
// per-process temporary file, as the reader maps files). Anything wrong must be a dsvl::Error. A
// file that opens must keep its promises: each tensor's bytes are exactly the bytes its
// data_offsets name in the input, tensors are in file order and do not overlap, views and read_f32
// see numel elements, and SafeTensorsWriter writes the same tensors back readably.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "dsvl/io/json.hpp"
#include "dsvl/io/safetensors.hpp"
#include "fuzz/temp_dir.hpp"

namespace {

const dsvl_test::FuzzTempDir& temp() {
  static const dsvl_test::FuzzTempDir dir("safetensors");
  return dir;
}

void check(bool ok, const char* what, std::string_view tensor = {}) {
  if (ok) return;
  std::fprintf(stderr, "safetensors_fuzz: %s (tensor '%.*s')\n", what, static_cast<int>(tensor.size()), tensor.data());
  std::abort();
}

std::uint64_t header_length(const std::uint8_t* data) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | data[i];
  return n;
}

// The view of rank R sees numel elements, or the reader says why not (misaligned data).
template <std::size_t R>
void check_views(const dsvl::io::TensorInfo& t) {
  const std::int64_t numel = t.shape.empty() ? 1 : t.numel();
  dsvl::visit_dtype(t.dtype, [&](auto zero) {
    using T = decltype(zero);
    try {
      const auto v = dsvl::io::tensor_view<T, R>(t);
      check(v.size() == numel, "view size differs from numel", t.name);
      check(v.size() == 0 || reinterpret_cast<const std::byte*>(v.data()) == t.bytes.data(), "view elsewhere", t.name);
    } catch (const dsvl::Error&) {
      check(!t.bytes.empty() && reinterpret_cast<std::uintptr_t>(t.bytes.data()) % alignof(T) != 0,
            "view refused an aligned tensor", t.name);
    }
  });
  if (t.dtype == dsvl::DType::f32 || t.dtype == dsvl::DType::bf16 || t.dtype == dsvl::DType::f16) {
    const auto f = dsvl::io::read_f32<R>(t);
    check(f.size() == numel, "read_f32 size differs from numel", t.name);
    if (t.dtype == dsvl::DType::f32 && numel > 0)
      check(std::memcmp(f.data(), t.bytes.data(), t.bytes.size()) == 0, "read_f32 changed F32 bytes", t.name);
  }
}

void check_views_any_rank(const dsvl::io::TensorInfo& t) {
  switch (t.shape.size()) {
    case 0:
    case 1: return check_views<1>(t);
    case 2: return check_views<2>(t);
    case 3: return check_views<3>(t);
    case 4: return check_views<4>(t);
    default: return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = temp().write("in.safetensors", data, size);
  std::optional<dsvl::io::SafeTensorsFile> file;
  try {
    file.emplace(path);
  } catch (const dsvl::Error&) {
    return 0;
  }
  // It opened, so the header length and the header are valid.
  const std::uint64_t n = header_length(data);
  const std::size_t data_start = 8 + static_cast<std::size_t>(n);
  const nlohmann::json header =
      dsvl::io::parse_json(std::string_view(reinterpret_cast<const char*>(data) + 8, static_cast<std::size_t>(n)), "");

  const std::byte* base = nullptr;  // where the mapping holds the input's first byte
  std::size_t tensors = 0, end_so_far = 0, last_begin = 0;
  for (const std::string_view name : file->names()) {
    const dsvl::io::TensorInfo& t = file->info(name);
    check(t.name == name, "info() gives another tensor", name);
    const auto& offsets = header.at(t.name).at("data_offsets");
    const auto begin = offsets[0].get<std::size_t>(), end = offsets[1].get<std::size_t>();
    check(data_start + end <= size, "tensor ends past the file", name);
    check(t.bytes.size() == end - begin, "byte count differs from data_offsets", name);
    check(static_cast<std::int64_t>(t.bytes.size()) == t.numel() * static_cast<std::int64_t>(dsvl::dtype_size(t.dtype)),
          "byte count differs from numel x dtype size", name);
    check(begin >= last_begin, "names() is not in file order", name);
    last_begin = begin;
    if (!t.bytes.empty()) {
      if (base == nullptr) base = t.bytes.data() - data_start - begin;
      check(t.bytes.data() == base + data_start + begin, "tensor bytes are not where data_offsets say", name);
      check(std::memcmp(t.bytes.data(), data + data_start + begin, t.bytes.size()) == 0, "tensor bytes differ", name);
      check(begin >= end_so_far, "non-empty tensors overlap", name);
      end_so_far = end;
    }
    check_views_any_rank(t);
    ++tensors;
  }
  check(tensors == file->size(), "names() and size() disagree");
  check(tensors + header.contains("__metadata__") == header.size(), "a header entry is missing");
  std::map<std::string, std::string> metadata;
  if (const auto m = header.find("__metadata__"); m != header.end())
    for (const auto& [k, v] : m->items()) metadata.emplace(k, v.get<std::string>());
  check(metadata == file->metadata(), "metadata differs from the header");

  // Written back and read again: the same tensors, shapes, dtypes, bytes and metadata.
  dsvl::io::SafeTensorsWriter writer;
  for (const std::string_view name : file->names()) {
    const dsvl::io::TensorInfo& t = file->info(name);
    writer.add_deferred(t.name, t.dtype, t.shape, [&t](std::span<std::byte> out) {
      if (!out.empty()) std::memcpy(out.data(), t.bytes.data(), out.size());
    });
  }
  for (const auto& [k, v] : file->metadata()) writer.set_metadata(k, v);
  const auto copy_path = temp().path() / "copy.safetensors";
  writer.write(copy_path);
  const dsvl::io::SafeTensorsFile copy(copy_path);
  check(copy.size() == file->size(), "the written copy has another tensor count");
  check(copy.metadata() == file->metadata(), "the written copy has other metadata");
  for (const std::string_view name : file->names()) {
    const dsvl::io::TensorInfo& a = file->info(name);
    const dsvl::io::TensorInfo& b = copy.info(name);
    check(a.dtype == b.dtype && a.shape == b.shape && a.bytes.size() == b.bytes.size(), "the copy differs", name);
    check(a.bytes.empty() || std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) == 0, "the copy's bytes differ",
          name);
  }
  return 0;
}
