// On-policy distillation, GKD (Agarwal et al. 2024, "On-Policy Distillation of Language Models",
// Algorithm 1). Logit and sequence-level KD train the student on sequences it did not write, so
// at test time it meets prefixes of its own, with its own mistakes, that it never learned to
// continue (exposure bias). GKD trains on the student's own samples instead, for a fraction
// lambda of the batches (the rest on the dataset's completions), and asks the teacher for its
// whole next-token distribution at every token of them: the loss is the generalised JSD(beta)
// between teacher and student (divergence.hpp), summed over the vocabulary at every completion
// position. No gradient flows through the sampling (the paper's choice too).
#pragma once

#include <vector>

#include "ch06/model.hpp"
#include "ch08/divergence.hpp"
#include "ch08/examples.hpp"
#include "ch08/logit_kd.hpp"

namespace ds::ch08 {

struct GkdConfig {
  float beta = 0.5f;                // 0 forward KL, 1 reverse KL (GKD's best on several tasks were 0.5-0.9)
  float lambda = 0.5f;              // fraction of batches the student samples itself (1: fully on-policy)
  float temperature = 1.f;          // of the divergence
  float sample_temperature = 1.f;   // of the student's sampling (the paper samples at 1)
  int64_t max_new_tokens = 64;
};

// The examples' prompts with completions the student samples now (seeded), each ending at
// <|endoftext|> or after max_new_tokens.
std::vector<TaskExample> student_samples(ch06::DeepSeekModel& student, const Tokenizer& tok, const std::vector<TaskExample>& examples,
                                         const GkdConfig& cfg, uint64_t seed);

// The teacher's distribution as the target at every completion token of the batch (example_batch's
// layout): masked_divergence(student, teacher) with the given beta and temperature. Metrics:
// "divergence".
Loss distill_loss(ch02::LanguageModel& student, ch02::LanguageModel& teacher, const Batch& batch, const DivergenceOptions& opt);

// Hinton's logit KD on the same layout: alpha * T^2 KL + (1 - alpha) CE on the batch's targets.
// Metrics: "soft", "hard".
Loss logit_kd_step(ch02::LanguageModel& student, ch02::LanguageModel& teacher, const Batch& batch, const LogitKDOptions& opt);

}  // namespace ds::ch08
