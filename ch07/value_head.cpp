#include "ch07/value_head.hpp"

#include "common/ops.hpp"

namespace ds::ch07 {

ValueHead::ValueHead(int64_t hidden, Rng& rng, float init_std) : summary(hidden, 1, rng, init_std, /*bias=*/true) {
  register_module("summary", summary);
}

Tensor ValueHead::forward(const Tensor& hidden) const {
  if (hidden.dim() != 3) shape_error("ValueHead", "hidden states must be [B, T, C]", hidden.shape());
  return reshape(summary.forward(hidden), {hidden.size(0), hidden.size(1)});
}

}  // namespace ds::ch07
