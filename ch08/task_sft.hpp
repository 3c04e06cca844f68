// Supervised fine-tuning on chat-formatted task examples: the minimum chapter 8 needs to train
// its teacher, the student from scratch and the sequence-level-distilled student.
//
// STAND-IN: ch07's SFT library (ch07/sft.hpp) is being written at the same time; when it lands,
// this file gives way to it. Everything chapter 8 asks of SFT is in these four functions.
//
// Layout: each row is prompt + completion from position 0, right-padded; the target at position
// i is token i + 1 when that token belongs to the completion, else -100. The model is graded only
// on what the assistant writes (R1's SFT and distillation data: sec. 2.3.3, sec. 2.4). Right
// padding needs no attention mask: a causal model never looks at the padding after a token.
#pragma once

#include <string>
#include <vector>

#include "ch02/language_model.hpp"
#include "ch07/tasks.hpp"
#include "common/tokenizer.hpp"
#include "common/trainer.hpp"

namespace ds::ch08 {

struct TaskExample {
  std::vector<int32_t> prompt;       // the chat template's prompt (compact: "User: .... Assistant:")
  std::vector<int32_t> completion;   // what the assistant writes, ending with <|endoftext|>
};

// The problem's prompt under ch07's compact template.
std::vector<int32_t> task_prompt(const Tokenizer& tok, const ch07::Problem& p);
// The problem's worked solution as the completion: " <think> steps </think> <answer> a </answer>".
TaskExample reference_example(const Tokenizer& tok, const ch07::Problem& p);
// The answer alone: " <think>  </think> <answer> a </answer>" (an empty reasoning block).
TaskExample answer_example(const Tokenizer& tok, const ch07::Problem& p);

// examples -> inputs [B, L] and targets [B, L], L = the longest prompt + completion minus 1.
Batch sft_batch(const std::vector<TaskExample>& examples, int32_t pad_id);

// The mean cross-entropy over the batch's completion tokens.
Loss sft_loss(ch02::LanguageModel& model, const Batch& batch);

}  // namespace ds::ch08
