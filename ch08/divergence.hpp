// How far the student's next-token distribution is from the teacher's, one number per token.
// Distillation (Hinton et al. 2015; GKD, Agarwal et al. 2024) trains the student to shrink it.
//
// With p = softmax(teacher / T) and q = softmax(student / T) over the vocabulary:
//   forward KL  KL(p || q) = sum p log(p / q)    mean-seeking: q must cover everything p allows
//   reverse KL  KL(q || p) = sum q log(q / p)    mode-seeking: q may drop modes but must not
//                                                 put mass where p has none
//   JSD(beta)   beta KL(p || m) + (1 - beta) KL(q || m),  m = beta p + (1 - beta) q   (GKD eq. 1)
// The interior JSD(beta) is beta KL(p || q) + O(beta^2) near beta = 0 and (1 - beta) KL(q || p)
// + O((1 - beta)^2) near 1 (both terms vanish at the ends), so GKD and TRL's GKDTrainer take
// beta = 0 to mean forward KL and beta = 1 reverse KL: the family runs from mean-seeking to
// mode-seeking. Every value is multiplied by T^2, Hinton's scaling: the gradient through
// logits / T shrinks as 1 / T^2, and T^2 keeps its size comparable across temperatures.
#pragma once

#include "common/tensor.hpp"

namespace ds::ch08 {

struct DivergenceOptions {
  float beta = 0.f;          // 0: forward KL (Hinton's KD), 1: reverse KL, between: generalised JSD
  float temperature = 1.f;   // both distributions are softened by the same T
};

// student_logits [N, V], teacher_logits [N, V]  ->  [N]: T^2 * D_beta(p_teacher || q_student)
// per row. Gradient only to the student: the teacher is a constant (a frozen model's output).
// beta = 0 is the core's distill_kl (common/ops_rl.cpp); beta > 0 is computed here.
Tensor token_divergence(const Tensor& student_logits, const Tensor& teacher_logits, const DivergenceOptions& opt = {});

// The two ends by name.
Tensor forward_kl(const Tensor& student_logits, const Tensor& teacher_logits, float temperature = 1.f);
Tensor reverse_kl(const Tensor& student_logits, const Tensor& teacher_logits, float temperature = 1.f);

}  // namespace ds::ch08
