// Sequence-level distillation (Kim and Rush 2016) the way DeepSeek-R1 distilled its small dense
// models (R1 paper sec. 2.4): the student is fine-tuned with plain SFT on text the teacher
// wrote. R1 built those 800k samples by rejection sampling (sec. 2.3.3): several responses per
// prompt, only the correct ones kept (a rule-based check where the answer is verifiable), and
// the rest filtered for readability. Here the check is ch07's verifiers: a sample is kept when
// its answer is right (accuracy 1) and its format is R1's (format 1) and it ends with
// <|endoftext|>.
#pragma once

#include <vector>

#include "ch06/model.hpp"
#include "ch07/tasks.hpp"
#include "ch08/examples.hpp"

namespace ds::ch08 {

struct RejectionConfig {
  int samples_per_prompt = 4;
  float temperature = 0.7f;        // the teacher's sampling temperature (R1 evaluates at 0.6; it does not say what it sampled its data at)
  int64_t max_new_tokens = 64;
  int keep_per_prompt = 1;         // distinct accepted completions kept per prompt
  int64_t batch = 64;              // prompts per generate() call (each repeated samples_per_prompt times)
  uint64_t seed = 0;
};

struct RejectionStats {
  int64_t prompts = 0, samples = 0, accepted = 0;   // accepted: samples that passed
  int64_t prompts_covered = 0;                      // prompts with at least one accepted sample
  int64_t kept = 0, kept_equal_reference = 0;       // examples kept, and those token for token the problem's reference worked solution
  double acceptance() const { return samples ? static_cast<double>(accepted) / static_cast<double>(samples) : 0.0; }
};

// The filter: the completion's answer is right, its format is R1's and it ends with <|endoftext|>
// (a sample cut off by the length limit is never kept).
bool accept_sample(const ch07::Problem& p, const std::vector<int32_t>& completion, const Tokenizer& tok);

// The teacher's accepted completions of the problems' prompts, as SFT examples (prompt order;
// a prompt with no accepted sample contributes nothing).
std::vector<TaskExample> rejection_sample(ch06::DeepSeekModel& teacher, const ch07::TaskCodec& codec, const std::vector<ch07::Problem>& problems,
                                          const RejectionConfig& cfg, RejectionStats* stats = nullptr);

}  // namespace ds::ch08
