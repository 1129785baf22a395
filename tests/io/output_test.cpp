// io/output.hpp: atomic files and folders, and the refusal of outputs that are inputs.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "dsvl/core/error.hpp"
#include "dsvl/io/output.hpp"

namespace {

namespace fs = std::filesystem;
using namespace dsvl;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A fresh, empty folder for one test case.
fs::path scratch(const char* name) {
  const fs::path d = fs::temp_directory_path() / ("dsvl_output_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::size_t entries(const fs::path& d) { return static_cast<std::size_t>(std::distance(fs::directory_iterator(d), {})); }

}  // namespace

TEST_CASE("AtomicFile: the destination changes only on commit, and nothing is left beside it") {
  const fs::path d = scratch("file");
  const fs::path p = d / "out.bin";
  io::write_file(p, "old");
  {
    io::AtomicFile f(p);
    f.write("new, but never committed");
    CHECK(slurp(p) == "old");
    CHECK(entries(d) == 2);  // the destination and the hidden temporary
  }
  CHECK(slurp(p) == "old");
  CHECK(entries(d) == 1);
  io::write_file(p, "new");
  CHECK(slurp(p) == "new");
  CHECK(entries(d) == 1);
}

TEST_CASE("AtomicFile: a reader that mapped the old file keeps its bytes") {
  const fs::path d = scratch("mapped");
  const fs::path p = d / "weights.bin";
  io::write_file(p, std::string(4096, 'a'));
  const int fd = ::open(p.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  void* map = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(map != MAP_FAILED);
  io::write_file(p, "b");  // a truncating writer would make the next read a SIGBUS
  CHECK(static_cast<const char*>(map)[4095] == 'a');
  ::munmap(map, 4096);
  ::close(fd);
  CHECK(slurp(p) == "b");
}

TEST_CASE("AtomicFile: errors name the destination") {
  const fs::path d = scratch("errors");
  CHECK_THROWS_WITH_AS(io::AtomicFile(d / "none" / "x"), doctest::Contains("cannot create a file beside it"), Error);
  CHECK_THROWS_WITH_AS(io::AtomicFile{d}, doctest::Contains("is a folder, expected a file name"), Error);
}

TEST_CASE("StagedFolder: all or nothing; a folder is replaced only when the caller allows it") {
  const fs::path d = scratch("folder");
  const fs::path out = d / "model";
  const auto never = [](const fs::path&) { return false; };
  const auto always = [](const fs::path&) { return true; };
  {
    io::StagedFolder s(out);
    io::write_file(s.path() / "a.txt", "1");
  }  // not committed: nothing
  CHECK(entries(d) == 0);
  {
    io::StagedFolder s(out);
    io::write_file(s.path() / "a.txt", "1");
    s.commit(never);  // absent: a rename, no question asked
  }
  CHECK(slurp(out / "a.txt") == "1");
  {
    io::StagedFolder s(out);
    io::write_file(s.path() / "b.txt", "2");
    CHECK_THROWS_WITH_AS(s.commit(never), doctest::Contains("is not a folder dsvl wrote"), Error);
  }
  CHECK(slurp(out / "a.txt") == "1");
  CHECK(entries(d) == 1);
  {
    io::StagedFolder s(out);
    io::write_file(s.path() / "b.txt", "2");
    s.commit(always);
  }
  CHECK(!fs::exists(out / "a.txt"));
  CHECK(slurp(out / "b.txt") == "2");
  CHECK(entries(d) == 1);
}

TEST_CASE("refuse_input: the same file under another name, or a folder that holds an input") {
  const fs::path d = scratch("inputs");
  fs::create_directories(d / "model");
  io::write_file(d / "model" / "config.json", "{}");
  fs::create_symlink(d / "model" / "config.json", d / "link.json");
  const std::vector<fs::path> inputs{d / "model", d / "model" / "config.json"};
  CHECK_THROWS_WITH_AS(io::refuse_input(d / "link.json", inputs, "--out"),
                       doctest::Contains("is an input of this run"), Error);
  CHECK_THROWS_WITH_AS(io::refuse_input(d / "model" / "." / "config.json", inputs, "--out"),
                       doctest::Contains("--out must name another path"), Error);
  CHECK_THROWS_WITH_AS(io::refuse_input(d, inputs, "--out"), doctest::Contains("holds an input of this run"), Error);
  CHECK_NOTHROW(io::refuse_input(d / "model" / "dump.safetensors", inputs, "--out"));
  CHECK_NOTHROW(io::refuse_input(d / "other", inputs, "--out"));
}
