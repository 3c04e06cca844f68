// Two things tests of a DeepSeekModel do often: its logits without a tape, and one AdamW step on a
// fixed batch's next-token loss.
#pragma once

#include "ch06/model.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/optim.hpp"

namespace ds::ch06::model_steps {

inline Tensor logits_of(DeepSeekModel& m, const IntTensor& ids) {
  NoGradGuard ng;
  return m.forward(ids);
}

inline void train_one_step(DeepSeekModel& m) {
  const IntTensor ids({1, 5, 9, 200, 3, 77, 4, 8}, {2, 4}), targets({5, 9, 200, 3, 77, 4, 8, 1}, {2, 4});
  AdamW opt(m.named_parameters(), AdamWConfig{});
  cross_entropy(m.forward(ids), targets).backward();
  opt.step();
}

}  // namespace ds::ch06::model_steps
