// Scoring given sequences: the log-probability a model gives each token of given completions,
// the quantity RL (ch07: GRPO's ratio pi/pi_old and KL to the reference, DeepSeekMath eq. 3-4)
// and distillation (ch08) compute their losses from. Differentiable: gradients reach the model.
//
// The batch layout is generate()'s: prompts left-padded to a common length P, completions
// right-padded after them, so the completion tokens of every row sit in columns P..P+N-1 and
// scoring a generation reads the very positions that produced it.
#pragma once

#include <vector>

#include "ch02/language_model.hpp"

namespace ds::ch02 {

struct SequenceBatch {
  IntTensor ids;              // [B, P + N]: left-padded prompt, then the completion, then padding
  IntTensor attention_mask;   // [B, P + N]: 1 for prompt and completion tokens, 0 for padding
  IntTensor targets;          // [B, N]: the completion tokens, -100 past each row's end
  int64_t prompt_len = 0;     // P
};
// One row per (prompt, completion) pair; every prompt needs at least one token.
SequenceBatch pack_sequences(const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<int32_t>>& completions);

struct TokenScores {
  Tensor log_probs;   // [B, N]: log p(completion token | everything before it); 0 where mask is 0
  Tensor mask;        // [B, N]: 1 for completion tokens, 0 for the padding after them
};
// One full forward (no cache) of the packed batch; the prompt and padding positions get no
// log-prob and no gradient (token_log_probs' ignore index).
TokenScores score_completions(LanguageModel& model, const SequenceBatch& batch);
TokenScores score_completions(LanguageModel& model, const std::vector<std::vector<int32_t>>& prompts,
                              const std::vector<std::vector<int32_t>>& completions);

}  // namespace ds::ch02
