// Logit (soft-target) distillation, Hinton, Vinyals and Dean 2015: the student learns from the
// teacher's whole next-token distribution, softened by a temperature T, alongside the data's
// hard labels:
//
//   L = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, labels)
//
// averaged over the tokens that count (a mask: completion tokens in SFT data, every token in
// language modelling). T > 1 lifts the small probabilities of the "wrong" tokens (which digits
// the teacher finds plausible, which words are near-synonyms), the dark knowledge one-hot labels
// lack; T^2 keeps the soft term's gradient on the scale of the hard term's (divergence.hpp).
// The KL compares the two distributions id by id, so teacher and student must share one
// tokenizer (check_shared_tokenizer).
#pragma once

#include "ch08/divergence.hpp"
#include "common/tensor.hpp"
#include "common/tokenizer.hpp"

namespace ds::ch08 {

struct LogitKDOptions {
  float alpha = 0.5f;         // weight of the soft (teacher) term; 1 - alpha on the hard labels
  float temperature = 2.f;    // T
  float beta = 0.f;           // the divergence (0: forward KL as Hinton; 1: reverse KL; between: JSD)
};

struct KDLoss {
  Tensor loss;       // scalar: alpha * soft + (1 - alpha) * hard
  float soft = 0;    // the mean T^2-scaled divergence over the counted tokens
  float hard = 0;    // the mean cross-entropy over the same tokens
};

// student_logits, teacher_logits [B, T, V]; targets [B, T]: the next token at each position, -100
// where nothing counts (the prompt, padding): those positions get neither term and no gradient.
KDLoss logit_kd_loss(const Tensor& student_logits, const Tensor& teacher_logits, const IntTensor& targets, const LogitKDOptions& opt);

// student_logits, teacher_logits [B, T, V], mask [B, T] of 0/1  ->  []: the mean divergence over
// the masked-in positions (GKD's loss: no hard labels, the teacher's distribution is the target).
Tensor masked_divergence(const Tensor& student_logits, const Tensor& teacher_logits, const Tensor& mask, const DivergenceOptions& opt);

// targets [B, T] -> mask [B, T]: 1 where a target counts (not -100), else 0.
Tensor target_mask(const IntTensor& targets);

// Throws one sentence unless the two tokenizers map every id to the same token (same size, same
// token bytes, same special tokens, same merges). Two tokenizers of one size pass a shape check
// and would be distilled id by id into nonsense; this catches them.
void check_shared_tokenizer(const Tokenizer& teacher, const Tokenizer& student);

}  // namespace ds::ch08
