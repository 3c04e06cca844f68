// The three numbers chapter 8 compares its students by, all on held-out problems: accuracy of
// the greedy answer (ch07's verifiers), the loss on the reference completions, and top-1
// agreement with the teacher (the share of completion positions where student and teacher
// would pick the same next token).
#pragma once

#include <string>
#include <vector>

#include "ch06/model.hpp"
#include "ch07/tasks.hpp"
#include "ch08/examples.hpp"

namespace ds::ch08 {

// Switches a model to absorbed MLA (the latent KV cache, ch03) while it decodes, back after.
class DecodingMode {
 public:
  explicit DecodingMode(ch06::DeepSeekModel& m) : m_(m), prev_(m.mla_mode()) { m.set_mla_mode(ch03::MLAMode::Absorbed); }
  ~DecodingMode() { m_.set_mla_mode(prev_); }
  DecodingMode(const DecodingMode&) = delete;
  DecodingMode& operator=(const DecodingMode&) = delete;

 private:
  ch06::DeepSeekModel& m_;
  ch03::MLAMode prev_;
};

struct TaskScore {
  double accuracy = 0;   // mean accuracy reward of the greedy completions
  double format = 0;     // mean format reward
  std::vector<std::vector<int32_t>> completions;
};
// Greedy completions of every problem's prompt, `batch` prompts at a time, up to
// max_new_tokens each, stopping at <|endoftext|>.
TaskScore score_on_task(ch06::DeepSeekModel& model, const ch07::TaskCodec& codec, const std::vector<ch07::Problem>& problems,
                        int64_t max_new_tokens, int64_t batch = 64);

// ch07's SFT loss over the examples' completion tokens, token-weighted across batches (no gradient).
double completion_loss(ch02::LanguageModel& model, const std::vector<TaskExample>& examples, int32_t pad_id, int64_t batch = 64);

// The share of the examples' completion positions where the two models' most likely next
// tokens agree (no gradient).
double top1_agreement(ch02::LanguageModel& student, ch02::LanguageModel& teacher, const std::vector<TaskExample>& examples,
                      int32_t pad_id, int64_t batch = 64);

}  // namespace ds::ch08
