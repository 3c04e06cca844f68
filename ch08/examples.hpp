// The chapter's training examples: a prompt and what the assistant writes, under ch07's codec
// (compact chat template, R1's completion format, <|endoftext|> at the end). SFT itself, the
// batch layout and the loss are ch07's (ch07/sft.hpp); this file adds only what chapter 8 needs
// beyond them: a pair type the distillation methods pass around (the teacher's accepted samples,
// the student's own samples), and the answers-only completion of a student without worked
// solutions (DeepSeek-R1's situation: problems with checkable answers, no reasoning written down).
#pragma once

#include <vector>

#include "ch07/task_model.hpp"
#include "common/trainer.hpp"

namespace ds::ch08 {

struct TaskExample {
  std::vector<int32_t> prompt;       // codec.prompt(problem)
  std::vector<int32_t> completion;   // what the assistant writes, ending with <|endoftext|>
};

// The problem's worked solution: " <think> steps </think> <answer> a </answer>" (ch07's SFT data).
TaskExample reference_example(const ch07::TaskCodec& codec, const ch07::Problem& p);
// The answer alone: " <think>  </think> <answer> a </answer>" (an empty reasoning block).
TaskExample answer_example(const ch07::TaskCodec& codec, const ch07::Problem& p);

// examples -> ch07::sft_batch's layout: inputs and targets [B, L], targets -100 off the completion.
Batch example_batch(const std::vector<TaskExample>& examples, int32_t pad);

// Tokens a model reads in a batch of these examples: sum of (prompt + completion - 1), padding
// not counted (the unit of the comparison's compute, compare.hpp).
int64_t example_tokens(const std::vector<TaskExample>& examples);

}  // namespace ds::ch08
