#include "ch02/next_token_loss.hpp"

#include "common/ops.hpp"

namespace ds::ch02 {

LossFn next_token_loss(LanguageModel& model) {
  return [&model](const Batch& b) { return Loss{cross_entropy(model.forward(b.inputs), b.targets), {}}; };
}

}  // namespace ds::ch02
