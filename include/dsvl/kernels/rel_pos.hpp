#pragma once
#include <cstdint>

#include "dsvl/core/view.hpp"

namespace dsvl::kernels {

// Decomposed relative positions (ViTDet, Li et al. 2022, sec. 3; segment_anything's
// add_decomposed_rel_pos): queries and keys are the same side x side grid of tokens, row-major
// (T = S = side²), and the score of query t = (th, tw) and key s = (sh, sw) gains, after the scale,
//   q[t, h, :] · rel_h[th - sh + side - 1, :] + q[t, h, :] · rel_w[tw - sw + side - 1, :]
// with q unscaled. rel_h, rel_w: (2 side - 1, Dk), shared by the heads.
struct RelPos2d {
  View<const float, 2> rel_h, rel_w;
  std::int64_t side() const { return (rel_h.shape(0) + 1) / 2; }
};

}  // namespace dsvl::kernels
