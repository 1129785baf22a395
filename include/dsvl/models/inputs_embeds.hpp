#pragma once
// inputs_embeds: a prompt's token embeddings with image embeddings written, in order, over the
// rows whose id is the image token (prepare_inputs_embeds of DeepSeek-VL and DeepSeek-VL2; the
// masked_scatter over images_seq_mask).

#include <cstdint>
#include <span>

#include "dsvl/core/error.hpp"
#include "dsvl/core/tensor.hpp"
#include "dsvl/core/view.hpp"

namespace dsvl::models {

// decoder: anything with embed(ids) -> (T, D) and config().hidden_size. image_embeds: one row per
// image token of `ids`; errors, prefixed by `where`, give both counts.
template <class Decoder>
Tensor<float, 2> inputs_embeds(const Decoder& decoder, std::span<const std::int32_t> ids, std::int32_t image_token_id,
                               View<const float, 2> image_embeds, const char* where) {
  const std::int64_t D = decoder.config().hidden_size;
  std::int64_t image_rows = 0;
  for (const std::int32_t id : ids) image_rows += id == image_token_id;
  DSVL_CHECK(image_rows == image_embeds.shape(0), where, "the prompt has ", image_rows, " image tokens (id ",
             image_token_id, ") but there are ", image_embeds.shape(0), " image embeddings");
  DSVL_CHECK(image_rows == 0 || image_embeds.shape(1) == D, where, "image embeddings have ", image_embeds.shape(1),
             " columns, hidden_size is ", D);
  Tensor<float, 2> x = decoder.embed(ids);
  std::int64_t next = 0;
  for (std::size_t t = 0; t < ids.size(); ++t)
    if (ids[t] == image_token_id) {
      for (std::int64_t d = 0; d < D; ++d) x(static_cast<std::int64_t>(t), d) = image_embeds(next, d);
      ++next;
    }
  return x;
}

}  // namespace dsvl::models
