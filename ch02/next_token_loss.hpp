// A language model's training objective for the common trainer (common/trainer.hpp): the mean
// cross-entropy of each position's logits against the token that follows it.
#pragma once

#include "ch02/language_model.hpp"
#include "common/trainer.hpp"

namespace ds::ch02 {

// model must outlive the returned function.
LossFn next_token_loss(LanguageModel& model);

}  // namespace ds::ch02
