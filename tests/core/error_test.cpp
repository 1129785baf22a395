#include <doctest/doctest.h>

#include "dsvl/core/error.hpp"

TEST_CASE("Error names the place and the problem") {
  try {
    dsvl::fail("model.safetensors: tensor 'lm_head.weight'", "shape [2, 3] but expected [", 4, ", 5]");
    FAIL("no throw");
  } catch (const dsvl::Error& e) {
    CHECK(std::string(e.what()) == "model.safetensors: tensor 'lm_head.weight': shape [2, 3] but expected [4, 5]");
    CHECK(e.where() == "model.safetensors: tensor 'lm_head.weight'");
    CHECK(e.problem() == "shape [2, 3] but expected [4, 5]");
  }
  CHECK_THROWS_WITH_AS(DSVL_CHECK(1 + 1 == 3, "config.json: field 'hidden_size'", "must be ", 3),
                       "config.json: field 'hidden_size': must be 3 (check failed: 1 + 1 == 3)", dsvl::Error);
}
