#pragma once
// A folder of this process's own for fuzz targets whose parser reads files: under /dev/shm when it
// exists (no disk writes at thousands of inputs a second), else the system's temporary folder.
// It is made on first use and removed when the process exits normally.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <unistd.h>

namespace dsvl_test {

class FuzzTempDir {
 public:
  explicit FuzzTempDir(const std::string& name) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    path_ = base / ("dsvl-fuzz-" + name + "-" + std::to_string(::getpid()));
    fs::create_directories(path_);
  }
  FuzzTempDir(const FuzzTempDir&) = delete;
  FuzzTempDir& operator=(const FuzzTempDir&) = delete;
  ~FuzzTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  const std::filesystem::path& path() const noexcept { return path_; }

  // Writes `size` bytes to `name` in this folder (replacing it) and returns its path.
  std::filesystem::path write(const std::string& name, const std::uint8_t* data, std::size_t size) const {
    const std::filesystem::path p = path_ / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) throw std::filesystem::filesystem_error("cannot write fuzz input", p, std::error_code());
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace dsvl_test
