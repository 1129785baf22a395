#pragma once
// Safetensors: zero-copy reading through a read-only mmap, sharded checkpoints (Hugging Face's
// model.safetensors.index.json), and a writer for dumps and test fixtures. POSIX only.
//
// File layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON (the header), then the
// data region. The header is an object mapping each tensor name to
//   {"dtype": "BF16", "shape": [1152, 3, 14, 14], "data_offsets": [begin, end]}
// (offsets in bytes, relative to the first byte after the header; row-major, little-endian
// elements), plus an optional "__metadata__" object of string -> string.
//
// Everything is validated when a file is opened, so no later access can read outside the mapping.
// Each failure is a dsvl::Error whose where() is the file path and whose message names the tensor
// when there is one:
//   - the file is missing or unreadable, shorter than 8 bytes, or N is over 100 MB (the reference
//     reader's bound; then the file is said not to be a safetensors file, without the number) or
//     runs past its end;
//   - the header is not valid JSON (with line and column), repeats a key, or is not an object;
//   - an entry is not an object, lacks "dtype", "shape" or "data_offsets", or has one of the
//     wrong JSON type; the dtype is not F32, BF16, F16, I64 or I32; an extent is negative, not
//     an integer, or the shape's element count overflows; data_offsets is not two non-negative
//     integers, has begin > end, or ends past the data region; end - begin differs from
//     numel x dtype size; two non-empty tensors overlap; "__metadata__" is not string -> string.
//
// Decisions:
//   - Unsupported dtypes (F64, U8, BOOL, F8_E4M3, ...) are rejected when the file is opened, with
//     the tensor's name: the official DeepSeek-VL checkpoints are BF16 throughout (spec 7.1), so
//     a foreign dtype means a wrong file, better reported before loading starts.
//   - A scalar (shape []) is a tensor of rank 0 with one element. View has no rank 0, so
//     view<T, 1> and read_f32<1> read a scalar as shape {1}.
//   - view<T, R> needs the data aligned to alignof(T): View reads elements through T&, and a
//     misaligned T is undefined behaviour. The mapping is page-aligned, and files from the
//     reference writer and from SafeTensorsWriter are always aligned (the header is padded to a
//     multiple of 8 and the data is ordered by decreasing element size). For another file, an
//     unaligned tensor is an error from view() that says so; TensorInfo::bytes and read_f32 (which
//     copies) still read it.
//   - Gaps between tensors and bytes after the last one are accepted (the reference reader
//     rejects both); overlapping tensors are not.
//   - SafeTensorsFile::names() lists tensors in file order (by data offset, then name).
//     Checkpoint::names() lists shard by shard, shards in file-name order, each in file order.
//   - The mapping stays valid while the SafeTensorsFile (or the Checkpoint) lives, including after
//     a move. Truncating the file on disk meanwhile makes the process fault (SIGBUS), as any mmap.

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "dsvl/core/dtype.hpp"
#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/view.hpp"
#include "dsvl/io/json.hpp"
#include "dsvl/io/output.hpp"

namespace dsvl::io {

static_assert(std::endian::native == std::endian::little,
              "dsvl::io safetensors: reading in place needs a little-endian host");

// One tensor of an open file. `bytes` points into the file's mapping.
struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;   // PyTorch order; empty for a scalar
  std::span<const std::byte> bytes;  // numel() * dtype_size(dtype) bytes
  std::filesystem::path file;        // the file holding it, for error messages

  std::size_t rank() const noexcept { return shape.size(); }
  std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
};

namespace detail {

inline std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

template <class... Args>
[[noreturn]] void fail_tensor(const TensorInfo& t, const Args&... args) {
  fail(t.file.string(), "tensor '", t.name, "': ", args...);
}

// The shape as a View shape: rank must be R, except that a scalar reads as {1} for R == 1.
template <std::size_t R>
std::array<std::int64_t, R> shape_as(const TensorInfo& t) {
  std::array<std::int64_t, R> out{};
  if (R == 1 && t.shape.empty()) {
    out[0] = 1;
    return out;
  }
  if (t.shape.size() != R)
    fail_tensor(t, "rank is ", t.shape.size(), " (shape ", shape_str(t.shape), "), expected rank ", R);
  std::copy(t.shape.begin(), t.shape.end(), out.begin());
  return out;
}

// A whole file mapped read-only; an empty file maps nothing.
class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path.string(), "cannot open: ", std::generic_category().message(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      fail(path.string(), "cannot stat: ", std::generic_category().message(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(path.string(), "not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
      const int err = errno;
      ::close(fd);
      if (p == MAP_FAILED) fail(path.string(), "cannot mmap: ", std::generic_category().message(err));
      data_ = static_cast<const std::byte*>(p);
    } else {
      ::close(fd);
    }
  }
  MappedFile(MappedFile&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  MappedFile& operator=(MappedFile&& o) noexcept {
    if (this != &o) {
      unmap();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~MappedFile() { unmap(); }

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  void unmap() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
  }
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// Drops the whole pages inside `bytes`, a range of a mapped checkpoint, from the process's resident
// memory once they have been copied or converted (the file stays mapped; a later read faults the
// pages back in from the page cache). Peak memory then holds the converted weights, not both.
inline void release_pages(std::span<const std::byte> bytes) noexcept {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(bytes.data()) + page - 1) / page * page;
  const auto end = (reinterpret_cast<std::uintptr_t>(bytes.data()) + bytes.size()) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

inline std::optional<DType> find_dtype(std::string_view name) {
  for (DType t : kDTypes)
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

// A non-negative JSON integer that fits in int64, or nullopt.
inline std::optional<std::int64_t> json_index(const nlohmann::json& j) {
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return static_cast<std::int64_t>(v);
  }
  return std::nullopt;
}

// One header entry, checked against the data region.
inline TensorInfo parse_entry(const std::string& name, const nlohmann::json& e, const std::filesystem::path& file,
                              std::span<const std::byte> data) {
  TensorInfo t;
  t.name = name;
  t.file = file;
  if (!e.is_object()) fail_tensor(t, "header entry is ", json_kind(e), ", expected an object");
  const auto field = [&](const char* key) -> const nlohmann::json& {
    const auto it = e.find(key);
    if (it == e.end()) fail_tensor(t, "header entry has no \"", key, "\"");
    return *it;
  };
  const nlohmann::json& dtype = field("dtype");
  const nlohmann::json& shape = field("shape");
  const nlohmann::json& offsets = field("data_offsets");

  if (!dtype.is_string()) fail_tensor(t, "\"dtype\" is ", json_kind(dtype), ", expected a string");
  const auto& dtype_str = dtype.get_ref<const std::string&>();
  const auto dt = find_dtype(dtype_str);
  if (!dt) fail_tensor(t, "unsupported dtype '", dtype_str, "' (supported: F32, BF16, F16, I64, I32, U8)");
  t.dtype = *dt;

  if (!shape.is_array()) fail_tensor(t, "\"shape\" is ", json_kind(shape), ", expected an array");
  // The product of the non-zero extents must fit, so that View strides never overflow.
  std::int64_t nonzero_product = 1;
  for (const auto& d : shape) {
    if (!d.is_number_integer())
      fail_tensor(t, "shape ", shape.dump(), " has an extent that is ", json_kind(d), ", expected an integer");
    const auto v = json_index(d);
    if (!v) fail_tensor(t, "shape ", shape.dump(), " has a negative or too large extent ", d.dump());
    if (*v > 0 && nonzero_product > std::numeric_limits<std::int64_t>::max() / *v)
      fail_tensor(t, "shape ", shape.dump(), " has too many elements");
    if (*v > 0) nonzero_product *= *v;
    t.shape.push_back(*v);
  }
  const auto elem = static_cast<std::int64_t>(dtype_size(t.dtype));
  if (nonzero_product > std::numeric_limits<std::int64_t>::max() / elem)
    fail_tensor(t, "shape ", shape.dump(), " has too many elements");
  const std::int64_t nbytes = t.numel() * elem;

  if (!offsets.is_array() || offsets.size() != 2)
    fail_tensor(t, "\"data_offsets\" is ", offsets.dump(), ", expected [begin, end]");
  const auto begin = json_index(offsets[0]), end = json_index(offsets[1]);
  if (!begin || !end)
    fail_tensor(t, "\"data_offsets\" ", offsets.dump(), " are not two non-negative integers");
  if (*begin > *end) fail_tensor(t, "data_offsets ", offsets.dump(), " have begin after end");
  if (static_cast<std::uint64_t>(*end) > data.size())
    fail_tensor(t, "data_offsets ", offsets.dump(), " run past the data region (", data.size(), " bytes)");
  if (*end - *begin != nbytes)
    fail_tensor(t, "data_offsets ", offsets.dump(), " span ", *end - *begin, " bytes, but ", dtype_str, " shape ",
                shape_str(t.shape), " needs ", nbytes, " bytes");
  t.bytes = data.subspan(static_cast<std::size_t>(*begin), static_cast<std::size_t>(nbytes));
  return t;
}

struct SafeTensorsState {
  std::filesystem::path path;
  MappedFile map;
  std::vector<TensorInfo> tensors;  // file order
  std::map<std::string, std::size_t, std::less<>> by_name;
  std::map<std::string, std::string> metadata;
};

// The largest header accepted, as the reference reader (a real header is at most a few MB).
inline constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

inline std::unique_ptr<SafeTensorsState> open_safetensors(const std::filesystem::path& path) {
  const std::string where = path.string();
  auto s = std::make_unique<SafeTensorsState>(SafeTensorsState{path, MappedFile(path), {}, {}, {}});
  const std::span<const std::byte> file = s->map.bytes();
  if (file.size() < 8) fail(where, "file is ", file.size(), " bytes, shorter than the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(file[static_cast<std::size_t>(i)]);
  if (n > kMaxHeaderBytes)
    fail(where, "not a safetensors file: its first 8 bytes, read as the header length, give more than ",
         kMaxHeaderBytes, " bytes");
  if (n > file.size() - 8)
    fail(where, "not a safetensors file, or a truncated one: the header length ", n, " runs past the end of the file (",
         file.size(), " bytes)");
  const std::string_view text(reinterpret_cast<const char*>(file.data()) + 8, static_cast<std::size_t>(n));
  const std::span<const std::byte> data = file.subspan(8 + static_cast<std::size_t>(n));

  const nlohmann::json header = parse_json(text, where);
  if (!header.is_object()) fail(where, "header is ", json_kind(header), ", expected a JSON object");
  s->tensors.reserve(header.size());
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail(where, "\"__metadata__\" is ", json_kind(value), ", expected an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) fail(where, "\"__metadata__\" value of '", k, "' is ", json_kind(v), ", expected a string");
        s->metadata.emplace(k, v.get<std::string>());
      }
    } else {
      s->tensors.push_back(parse_entry(key, value, path, data));
    }
  }

  const auto begin_of = [&](const TensorInfo& t) { return static_cast<std::size_t>(t.bytes.data() - data.data()); };
  std::sort(s->tensors.begin(), s->tensors.end(), [&](const TensorInfo& a, const TensorInfo& b) {
    const auto ka = std::tuple(begin_of(a), a.bytes.size(), std::string_view(a.name));
    const auto kb = std::tuple(begin_of(b), b.bytes.size(), std::string_view(b.name));
    return ka < kb;
  });
  const TensorInfo* last = nullptr;  // the non-empty tensor reaching furthest so far
  for (const TensorInfo& t : s->tensors) {
    if (t.bytes.empty()) continue;
    if (last != nullptr && begin_of(t) < begin_of(*last) + last->bytes.size())
      fail(where, "tensors '", last->name, "' (bytes [", begin_of(*last), ", ", begin_of(*last) + last->bytes.size(),
           ")) and '", t.name, "' (bytes [", begin_of(t), ", ", begin_of(t) + t.bytes.size(), ")) overlap");
    if (last == nullptr || begin_of(t) + t.bytes.size() > begin_of(*last) + last->bytes.size()) last = &t;
  }
  for (std::size_t i = 0; i < s->tensors.size(); ++i) s->by_name.emplace(s->tensors[i].name, i);
  return s;
}

// Copies a strided view's elements in row-major order to `out`.
template <class T, std::size_t R>
void gather_bytes(View<T, R> v, std::byte* out) {
  using U = std::remove_const_t<T>;
  if (v.empty()) return;
  if (v.is_contiguous()) {
    std::memcpy(out, v.data(), sizeof(U) * static_cast<std::size_t>(v.size()));
    return;
  }
  std::array<std::int64_t, R> idx{};
  const std::int64_t inner = v.shape(R - 1), inner_stride = v.stride(R - 1);
  for (;;) {
    const T* row = v.data();
    for (std::size_t d = 0; d + 1 < R; ++d) row += idx[d] * v.stride(d);
    for (std::int64_t i = 0; i < inner; ++i, out += sizeof(U)) std::memcpy(out, row + i * inner_stride, sizeof(U));
    std::size_t d = R - 1;
    while (d-- > 0) {
      if (++idx[d] < v.shape(d)) break;
      idx[d] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) return;
  }
}

}  // namespace detail

// A zero-copy view of a tensor's data (a null pointer for an empty tensor). Errors (naming file
// and tensor): the dtype is not dtype_of<T>(); the rank is not R (a scalar reads as R == 1, shape
// {1}); the data is not aligned to alignof(T) (see the top of this header).
template <class T, std::size_t R>
View<const T, R> tensor_view(const TensorInfo& t) {
  using U = std::remove_const_t<T>;
  constexpr DType want = dtype_of<U>();
  if (t.dtype != want) detail::fail_tensor(t, "dtype is ", dtype_name(t.dtype), ", expected ", dtype_name(want));
  const auto shape = detail::shape_as<R>(t);
  if (t.bytes.empty()) return View<const T, R>(nullptr, shape);
  if (reinterpret_cast<std::uintptr_t>(t.bytes.data()) % alignof(U) != 0)
    detail::fail_tensor(t, "data is not aligned to ", alignof(U), " bytes, so it cannot be viewed as ",
                        dtype_name(want), " in place (read_f32 copies it)");
  return View<const T, R>(reinterpret_cast<const U*>(t.bytes.data()), shape);
}

// The tensor widened to f32 in an owning tensor. Reads F32, BF16 and F16 at any alignment.
// Errors (naming file and tensor): another dtype; rank not R (a scalar reads as R == 1).
template <std::size_t R>
Tensor<float, R> read_f32(const TensorInfo& t) {
  if (t.dtype != DType::f32 && t.dtype != DType::bf16 && t.dtype != DType::f16)
    detail::fail_tensor(t, "dtype is ", dtype_name(t.dtype), "; read_f32 reads F32, BF16 or F16");
  Tensor<float, R> out(detail::shape_as<R>(t));
  const std::byte* src = t.bytes.data();
  float* dst = out.data();
  const auto n = static_cast<std::size_t>(out.size());
  if (t.dtype == DType::f32) {
    if (n > 0) std::memcpy(dst, src, n * sizeof(float));
    return out;
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t bits = 0;
    std::memcpy(&bits, src + 2 * i, 2);
    dst[i] = t.dtype == DType::bf16 ? bf16::from_bits(bits).to_float() : f16::from_bits(bits).to_float();
  }
  return out;
}

// One safetensors file, memory-mapped read-only and validated on construction (errors: see the
// top of this header). Movable, not copyable; a moved-from object may only be destroyed or
// assigned to.
class SafeTensorsFile {
 public:
  explicit SafeTensorsFile(const std::filesystem::path& path) : s_(detail::open_safetensors(path)) {}

  const std::filesystem::path& path() const noexcept { return s_->path; }
  std::size_t size() const noexcept { return s_->tensors.size(); }
  bool contains(std::string_view name) const { return s_->by_name.find(name) != s_->by_name.end(); }

  // Error if absent: "<file>: no tensor 'name' (the file holds N tensors)".
  const TensorInfo& info(std::string_view name) const {
    const auto it = s_->by_name.find(name);
    if (it == s_->by_name.end())
      fail(s_->path.string(), "no tensor '", name, "' (the file holds ", s_->tensors.size(), " tensors)");
    return s_->tensors[it->second];
  }

  template <class T, std::size_t R>
  View<const T, R> view(std::string_view name) const {
    return tensor_view<T, R>(info(name));
  }

  // In file order (by data offset, then name); the views live as long as this file.
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    out.reserve(s_->tensors.size());
    for (const auto& t : s_->tensors) out.push_back(t.name);
    return out;
  }

  const std::map<std::string, std::string>& metadata() const noexcept { return s_->metadata; }

 private:
  std::unique_ptr<detail::SafeTensorsState> s_;
};

// The weight_map of a model.safetensors.index.json: tensor name -> shard file name (relative to
// the index's folder). Errors (naming the index file): as read_json; no "weight_map" object; a
// value that is not a string, is empty, or is not a path inside the folder (absolute, or with a
// ".." component).
inline std::map<std::string, std::string> read_safetensors_index(const std::filesystem::path& index) {
  const std::string where = index.string();
  const nlohmann::json j = read_json(index);
  if (!j.is_object()) fail(where, "index is ", detail::json_kind(j), ", expected a JSON object");
  const auto wm = j.find("weight_map");
  if (wm == j.end()) fail(where, "missing field 'weight_map'");
  if (!wm->is_object()) fail(where, "field 'weight_map' is ", detail::json_kind(*wm), ", expected an object");
  std::map<std::string, std::string> out;
  for (const auto& [name, file] : wm->items()) {
    if (!file.is_string())
      fail(where, "weight_map entry '", name, "' is ", detail::json_kind(file), ", expected a shard file name");
    const auto& f = file.get_ref<const std::string&>();
    const std::filesystem::path p(f);
    if (f.empty() || p.has_root_path() || std::find(p.begin(), p.end(), "..") != p.end())
      fail(where, "weight_map entry '", name, "' names shard \"", f,
           "\", expected a relative file name inside the model folder");
    out.emplace(name, f);
  }
  return out;
}

namespace detail {

// Whether `file`, named inside the model folder `folder`, stays there once symlinks are resolved.
// A folder that is a snapshot of the Hugging Face cache (<repo>/snapshots/<revision>) holds
// links into <repo>/blobs, which count as inside.
inline bool resolves_inside(const std::filesystem::path& folder, const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::canonical(folder.empty() ? fs::path(".") : folder, ec);
  if (ec) return false;
  const fs::path target = fs::weakly_canonical(file, ec);
  if (ec) return false;
  const auto under = [&](const fs::path& root) {
    return std::mismatch(root.begin(), root.end(), target.begin(), target.end()).first == root.end();
  };
  return under(dir) || (dir.parent_path().filename() == "snapshots" && under(dir.parent_path().parent_path() / "blobs"));
}

}  // namespace detail

// The tensors of a model: one .safetensors file, or the shards of a model.safetensors.index.json
// (each shard opened once). open() takes
//   - a .safetensors file;
//   - an index .json file;
//   - a directory holding model.safetensors, else model.safetensors.index.json (the order
//     Hugging Face transformers tries them).
// With an index, the tensors are exactly those of its weight_map; other tensors in the shards are
// ignored. Errors: the path does not exist, or a directory holds neither file (naming the path);
// those of SafeTensorsFile and read_safetensors_index; a shard resolves (through symlinks) outside
// the index's folder, checked before any shard is opened; a shard file does not exist, or does not
// contain a tensor the index maps to it (naming the index, the shard and the tensor).
class Checkpoint {
 public:
  static Checkpoint open(const std::filesystem::path& file_or_dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto st = fs::status(file_or_dir, ec);
    if (!fs::exists(st)) fail(file_or_dir.string(), "no such file or directory");
    if (fs::is_directory(st)) {
      if (fs::is_regular_file(file_or_dir / "model.safetensors", ec))
        return from_file(file_or_dir, file_or_dir / "model.safetensors");
      if (fs::is_regular_file(file_or_dir / "model.safetensors.index.json", ec))
        return from_index(file_or_dir, file_or_dir / "model.safetensors.index.json");
      fail(file_or_dir.string(), "directory holds neither model.safetensors nor model.safetensors.index.json");
    }
    if (file_or_dir.extension() == ".json") return from_index(file_or_dir, file_or_dir);
    return from_file(file_or_dir, file_or_dir);
  }

  // What open() was given.
  const std::filesystem::path& path() const noexcept { return path_; }
  // The open files, in shard-file-name order.
  const std::vector<SafeTensorsFile>& files() const noexcept { return files_; }
  std::size_t size() const noexcept { return order_.size(); }
  bool contains(std::string_view name) const { return by_name_.find(name) != by_name_.end(); }

  // Error if absent: "<path>: no tensor 'name' (the checkpoint holds N tensors)".
  const TensorInfo& info(std::string_view name) const {
    const auto it = by_name_.find(name);
    if (it == by_name_.end())
      fail(path_.string(), "no tensor '", name, "' (the checkpoint holds ", order_.size(), " tensors)");
    return *it->second;
  }

  template <class T, std::size_t R>
  View<const T, R> view(std::string_view name) const {
    return tensor_view<T, R>(info(name));
  }

  // Shard by shard, each in file order; the views live as long as this checkpoint.
  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    out.reserve(order_.size());
    for (const TensorInfo* t : order_) out.push_back(t->name);
    return out;
  }

 private:
  Checkpoint() = default;

  void add(const TensorInfo& t) {
    order_.push_back(&t);
    by_name_.emplace(t.name, &t);
  }

  static Checkpoint from_file(const std::filesystem::path& given, const std::filesystem::path& file) {
    Checkpoint c;
    c.path_ = given;
    c.files_.emplace_back(file);
    for (auto name : c.files_[0].names()) c.add(c.files_[0].info(name));
    return c;
  }

  static Checkpoint from_index(const std::filesystem::path& given, const std::filesystem::path& index) {
    const std::string where = index.string();
    const auto weight_map = read_safetensors_index(index);
    std::map<std::string_view, std::string_view> first_tensor;  // shard -> a tensor it should hold
    for (const auto& [name, shard] : weight_map) first_tensor.emplace(shard, name);

    for (const auto& [shard, tensor] : first_tensor)
      if (!detail::resolves_inside(index.parent_path(), index.parent_path() / shard))
        fail(where, "weight_map entry '", tensor, "' names shard \"", shard,
             "\", which resolves outside the model folder");

    Checkpoint c;
    c.path_ = given;
    std::map<std::string_view, std::size_t> file_of;  // shard -> index in files_
    for (const auto& [shard, tensor] : first_tensor) {
      const auto file = index.parent_path() / shard;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(file, ec))
        fail(where, "shard '", shard, "' (holding tensor '", tensor, "') does not exist: ", file.string());
      file_of.emplace(shard, c.files_.size());
      c.files_.emplace_back(file);
    }
    for (const auto& [name, shard] : weight_map)
      if (!c.files_[file_of.at(shard)].contains(name))
        fail(where, "tensor '", name, "' is mapped to shard '", shard, "', which does not contain it");
    for (const auto& [shard, i] : file_of)
      for (auto name : c.files_[i].names())
        if (const auto it = weight_map.find(std::string(name)); it != weight_map.end() && it->second == shard)
          c.add(c.files_[i].info(name));
    return c;
  }

  std::filesystem::path path_;
  std::vector<SafeTensorsFile> files_;
  std::vector<const TensorInfo*> order_;
  std::map<std::string_view, const TensorInfo*> by_name_;  // keys view TensorInfo::name
};

// Builds a safetensors file in memory and writes it. The header is padded with spaces to a
// multiple of 8 bytes, as the reference writer does. Data is laid out by decreasing element size
// (I64, then F32/I32, then BF16/F16), in add() order within a size, so that every tensor is
// aligned to its element size without gaps (gaps are rejected by the reference reader).
class SafeTensorsWriter {
 public:
  // Copies the view's elements (any strides). Errors: the name is a duplicate or "__metadata__".
  template <class T, std::size_t R>
  void add(std::string name, View<T, R> tensor) {
    using U = std::remove_const_t<T>;
    claim_name(name);
    Entry e{std::move(name), dtype_of<U>(), {}, {}, sizeof(U) * static_cast<std::size_t>(tensor.size()), {}};
    e.shape.assign(tensor.shape().begin(), tensor.shape().end());
    e.bytes.resize(e.size);
    detail::gather_bytes(tensor, e.bytes.data());
    entries_.push_back(std::move(e));
  }
  template <class T, std::size_t R>
  void add(std::string name, const Tensor<T, R>& tensor) {
    add(std::move(name), tensor.view());
  }

  // A tensor copied from the view (any strides) when the file is written, not now: the data must
  // outlive write(). Writing a model's weights needs no second copy of them in memory.
  template <class T, std::size_t R>
  void add_borrowed(std::string name, View<const T, R> tensor) {
    add_deferred(std::move(name), dtype_of<T>(), {tensor.shape().begin(), tensor.shape().end()},
                 [tensor](std::span<std::byte> bytes) { detail::gather_bytes(tensor, bytes.data()); });
  }

  // A tensor whose bytes `fill` writes when the file is written, one tensor at a time: files
  // larger than memory (random-weight checkpoints of the real sizes).
  using Fill = std::function<void(std::span<std::byte> bytes)>;
  void add_deferred(std::string name, DType dtype, std::vector<std::int64_t> shape, Fill fill) {
    claim_name(name);
    std::size_t n = dtype_size(dtype);
    for (const auto d : shape) n *= static_cast<std::size_t>(d);
    entries_.push_back({std::move(name), dtype, std::move(shape), {}, n, std::move(fill)});
  }

  void set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

  // Writes the file atomically (io/output.hpp): complete or not at all. Errors (naming the path):
  // a name that is not valid UTF-8; the file cannot be written.
  void write(const std::filesystem::path& path) const {
    std::vector<const Entry*> order;
    for (const auto& e : entries_) order.push_back(&e);
    std::stable_sort(order.begin(), order.end(),
                     [](const Entry* a, const Entry* b) { return dtype_size(a->dtype) > dtype_size(b->dtype); });
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
    std::uint64_t offset = 0;
    for (const Entry* e : order) {
      header[e->name] = {{"dtype", std::string(dtype_name(e->dtype))},
                         {"shape", e->shape},
                         {"data_offsets", {offset, offset + e->size}}};
      offset += e->size;
    }
    std::string text;
    try {
      text = header.dump();
    } catch (const nlohmann::json::exception& ex) {
      fail(path.string(), "cannot write the header: ", ex.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');
    std::array<char, 8> len{};
    for (std::size_t i = 0; i < 8; ++i) len[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);

    AtomicFile out(path);
    out.write(std::as_bytes(std::span(len)));
    out.write(text);
    std::vector<std::byte> buffer;
    for (const Entry* e : order) {
      const std::byte* bytes = e->bytes.data();
      if (e->fill) {
        buffer.assign(e->size, std::byte{0});
        e->fill(std::span<std::byte>(buffer));
        bytes = buffer.data();
      }
      out.write({bytes, e->size});
    }
    out.commit();
  }

 private:
  void claim_name(const std::string& name) {
    if (name == "__metadata__") fail("SafeTensorsWriter", "\"__metadata__\" cannot name a tensor");
    if (!names_.insert(name).second) fail("SafeTensorsWriter", "duplicate tensor '", name, "'");
  }

  struct Entry {
    std::string name;
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> bytes;  // empty when `fill` makes them
    std::size_t size = 0;
    Fill fill;
  };
  std::vector<Entry> entries_;
  std::set<std::string, std::less<>> names_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace dsvl::io

// Whoever holds a Checkpoint can bind blocks' weights to it (nn::load_weights, nn::WeightLoader)
// and save them (nn::WeightSaver).
#include "dsvl/io/checkpoint.hpp"
