#pragma once
// A released size of a generation: the name the tool takes (`dsvl random-model --preset`), the
// Hugging Face repository it was read from, and its config (a compile-time value).

#include <string_view>

namespace dsvl::models {

template <class Config>
struct Preset {
  std::string_view name;
  std::string_view repository;
  Config config;
};

}  // namespace dsvl::models
