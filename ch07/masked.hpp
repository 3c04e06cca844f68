// Reductions over completion tokens. Every RL loss in this chapter works on per-token
// log-probs [B, T] of prompt + completion (or completion only) with a mask [B, T] that is 1 on
// the completion's tokens and 0 on the prompt and on padding: the policy is only graded on what
// it wrote. The masks are data (never differentiated); the values flow through the tape.
#pragma once

#include <cstdint>
#include <string>

#include "common/tensor.hpp"

namespace ds::ch07 {

// Throws one sentence unless x and mask are both [B, T] with the same shape and mask is 0/1.
void check_tokens(const std::string& op, const Tensor& x, const Tensor& mask);

// x [B, T], mask [B, T]  ->  [B]: sum over each row's completion tokens (a sequence log-prob).
Tensor masked_row_sum(const Tensor& x, const Tensor& mask);
// x [B, T], mask [B, T]  ->  [B]: mean over each row's completion tokens (empty rows give 0).
Tensor masked_row_mean(const Tensor& x, const Tensor& mask);
// x [B, T], mask [B, T]  ->  []: sum of x over all completion tokens divided by `divisor`.
Tensor masked_sum_over(const Tensor& x, const Tensor& mask, double divisor);
// x [B, T], mask [B, T]  ->  []: mean over all completion tokens of the batch.
Tensor masked_mean(const Tensor& x, const Tensor& mask);

// Plain numbers for logging (no tape): completion tokens in row b, and in the whole batch.
int64_t row_tokens(const Tensor& mask, int64_t b);
int64_t total_tokens(const Tensor& mask);
// Mean of x over the completion tokens, as a number (0 when there are none).
float masked_average(const Tensor& x, const Tensor& mask);

}  // namespace ds::ch07
