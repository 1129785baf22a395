// Where the tests find the real tokenizer and checkpoint data that is not in this repository:
// $DSVL_SHARED_DATA, else the `shared/data` folder beside the source tree.
#pragma once

#include <cstdlib>
#include <filesystem>

namespace dsvl::test {

inline std::filesystem::path shared_data_dir() {
  if (const char* env = std::getenv("DSVL_SHARED_DATA")) return env;
  return std::filesystem::path(DSVL_TEST_DATA_DIR) / "../../../shared/data";
}

// `rel` under the shared data folder; empty when it is not there, so a test can say it skipped.
inline std::filesystem::path shared_data(const std::filesystem::path& rel) {
  const auto p = shared_data_dir() / rel;
  return std::filesystem::exists(p) ? p : std::filesystem::path{};
}

}  // namespace dsvl::test
