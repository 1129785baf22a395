#pragma once
// Files and folders written so that a reader never sees half of them and no input is lost. POSIX.
//
//   AtomicFile      a file written to a temporary beside its destination and renamed over it when
//                   complete: readers see the old file or the whole new one, a process that has the
//                   old one mapped keeps it, and a failed write leaves the destination as it was.
//   StagedFolder    a folder filled beside its destination and put in place by one rename (or one
//                   atomic exchange with the folder it replaces, RENAME_EXCHANGE).
//   refuse_input    an output path that is one of a run's inputs is an error, before anything is
//                   written.
//
// A write error (disk full, EFBIG under `ulimit -f` when SIGXFSZ is ignored, as the dsvl tool does)
// is a dsvl::Error naming the destination; the temporary is removed.

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "dsvl/core/error.hpp"

namespace dsvl::io {

namespace detail {

inline std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// "<folder>/.<name>.tmp-XXXXXX": hidden, beside `path` (so a rename never crosses file systems).
inline std::string temporary_template(const std::filesystem::path& path) {
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string name = ".";
  name += path.filename().string();
  name += ".tmp-XXXXXX";
  return (folder / name).string();
}

}  // namespace detail

class AtomicFile {
 public:
  // Creates the temporary. Errors (naming `path`): it names a folder; its folder does not exist or
  // is not writable.
  explicit AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
    std::error_code ec;
    if (path_.filename().empty() || std::filesystem::is_directory(path_, ec))
      fail(path_.string(), "is a folder, expected a file name to write");
    std::string name = detail::temporary_template(path_);
    fd_ = ::mkstemp(name.data());
    if (fd_ < 0) fail(path_.string(), "cannot create a file beside it: ", detail::errno_text(errno));
    temporary_ = std::move(name);
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!temporary_.empty()) ::unlink(temporary_.c_str());
  }

  void write(std::span<const std::byte> bytes) {
    const std::byte* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
      const ::ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(path_.string(), "cannot write: ", detail::errno_text(n < 0 ? errno : ENOSPC));
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  void write(std::string_view text) { write(std::as_bytes(std::span(text.data(), text.size()))); }

  // Flushes the data to the disk and renames the temporary over the destination (mode 0644 less
  // the umask, as a new file gets).
  void commit() {
    const ::mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd_, 0666 & ~mask) != 0 || ::fsync(fd_) != 0)
      fail(path_.string(), "cannot write: ", detail::errno_text(errno));
    const int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) fail(path_.string(), "cannot write: ", detail::errno_text(errno));
    if (::rename(temporary_.c_str(), path_.c_str()) != 0)
      fail(path_.string(), "cannot replace: ", detail::errno_text(errno));
    temporary_.clear();
  }

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  std::string temporary_;  // empty once renamed
  int fd_ = -1;
};

// Writes `text` to `path` atomically (AtomicFile).
inline void write_file(const std::filesystem::path& path, std::string_view text) {
  AtomicFile f(path);
  f.write(text);
  f.commit();
}

// Copies the file `from` to `to`, a new file (in a StagedFolder). Errors name both.
inline void copy_file(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, ec);
  if (ec) fail(from.string(), "cannot copy it to ", to.string(), ": ", ec.message());
}

class StagedFolder {
 public:
  // Creates the staging folder beside `destination`. Errors (naming it): its parent does not
  // exist or is not writable; it exists and is not a folder.
  explicit StagedFolder(std::filesystem::path destination) : destination_(std::move(destination)) {
    if (destination_.filename().empty()) destination_ = destination_.parent_path();
    std::error_code ec;
    if (std::filesystem::exists(destination_, ec) && !std::filesystem::is_directory(destination_, ec))
      fail(destination_.string(), "exists and is not a folder");
    std::string name = detail::temporary_template(destination_);
    if (::mkdtemp(name.data()) == nullptr)
      fail(destination_.string(), "cannot create a folder beside it: ", detail::errno_text(errno));
    staging_ = std::move(name);
  }
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;
  ~StagedFolder() {
    std::error_code ec;
    if (!staging_.empty()) std::filesystem::remove_all(staging_, ec);
  }

  // Where to write the folder's files (each one complete before commit()).
  const std::filesystem::path& path() const noexcept { return staging_; }
  const std::filesystem::path& destination() const noexcept { return destination_; }

  // Puts the staged folder at the destination. An absent or empty destination is replaced by a
  // rename; a non-empty one only when `replaceable(destination)` says so, by an atomic exchange,
  // after which the old folder is deleted (processes holding its files keep them). Errors name the
  // destination.
  void commit(const std::function<bool(const std::filesystem::path&)>& replaceable) {
    for (const auto& e : std::filesystem::directory_iterator(staging_)) sync_file(e.path());
    std::error_code ec;
    const bool occupied = std::filesystem::exists(destination_, ec) && !std::filesystem::is_empty(destination_, ec);
    if (!occupied) {
      if (::rename(staging_.c_str(), destination_.c_str()) != 0)
        fail(destination_.string(), "cannot put the folder in place: ", detail::errno_text(errno));
      staging_.clear();
      return;
    }
    if (!replaceable(destination_))
      fail(destination_.string(), "exists and is not empty, and is not a folder dsvl wrote; choose a new folder");
    if (::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, destination_.c_str(), RENAME_EXCHANGE) != 0)
      fail(destination_.string(), "cannot replace the folder: ", detail::errno_text(errno));
    std::filesystem::remove_all(staging_, ec);  // now the old folder
    staging_.clear();
  }

 private:
  static void sync_file(const std::filesystem::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      const int e = errno;
      if (fd >= 0) ::close(fd);
      fail(p.string(), "cannot write: ", detail::errno_text(e));
    }
    ::close(fd);
  }

  std::filesystem::path destination_;
  std::filesystem::path staging_;  // empty once in place
};

// Refuses (naming `what`, e.g. "--out") an output path that is, or would replace, one of `inputs`:
// the same file (links followed), or a file inside an input folder when `output` is a folder that
// holds it.
inline void refuse_input(const std::filesystem::path& output, std::span<const std::filesystem::path> inputs,
                         std::string_view what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // Replacing a folder would remove the inputs inside it.
  const bool folder = fs::is_directory(output, ec);
  const fs::path out = folder ? fs::weakly_canonical(output, ec) : fs::path();
  for (const auto& input : inputs) {
    if (fs::equivalent(output, input, ec))
      fail(output.string(), "is an input of this run (", input.string(), "); ", what, " must name another path");
    if (!folder) continue;
    const fs::path in = fs::weakly_canonical(input, ec);
    if (std::mismatch(out.begin(), out.end(), in.begin(), in.end()).first == out.end())
      fail(output.string(), "holds an input of this run (", input.string(), "); ", what, " must name another path");
  }
}

}  // namespace dsvl::io
