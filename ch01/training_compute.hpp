// Training compute from the parameter count: a forward pass costs 2 FLOPs per parameter a token
// touches (one multiply, one add), the backward twice that, so training costs 6 N D FLOPs for D
// tokens (Kaplan et al. 2020; Chinchilla's C = 6ND). For a MoE model N is the activated count,
// without the embedding table (a lookup, not a matmul). DeepSeek-V3 also trains its MTP module,
// which runs its own block and the shared head once more per token.
// GPU hours = FLOPs / (peak FLOP/s x MFU) / 3600, where MFU (model FLOPs utilisation) is the
// fraction of the GPU's peak the run sustains; given the hours, the same equation gives the MFU.
#pragma once

#include "common/deepseek_config.hpp"

namespace ds::ch01 {

// N: the parameters whose matmuls one training token runs (main model without the embedding
// table; with_mtp adds each MTP module's activated weights and its pass through model.norm-less
// shared head, i.e. lm_head again).
int64_t matmul_parameters(const DeepSeekConfig& c, bool with_mtp);

// Attention's own FLOPs per training token, which 6N leaves out: per layer and head, the scores
// q.k (2 d_qk per key) and the weighted values (2 d_v per key) over the (T + 1) / 2 keys a causal
// token sees on average in a sequence of T, times 3 for forward and backward.
double attention_flops_per_token(const DeepSeekConfig& c, int64_t seq_len, bool with_mtp);

double gpu_hours(double flops, double peak_flops_per_gpu, double mfu);
double implied_mfu(double flops, double gpu_hours, double peak_flops_per_gpu);

}  // namespace ds::ch01
