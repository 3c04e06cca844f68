// What DeepSeek-V3's recomputation (section 3.2.3: RMSNorm and the MLA up-projections recomputed
// in backward, their outputs not kept) keeps out of a training forward, counted from the shapes.
// The tests and bench/bench_recompute check these counts against the core's memory accounting.
#pragma once

#include "ch03/mla.hpp"

namespace ds::ch03 {

// Numbers per token that MultiHeadLatentAttention::recompute keeps out. This core's tape holds
// every op's inputs until backward, so that is every tensor between the latents and the
// attention's inputs: q_norm's and wq_b's outputs (with query compression), the raw and normed
// c_KV, k_pe before and after RoPE, wkv_b's output, and the heads q (wq_b's output with its
// tail rotated), k and v themselves.
int64_t mla_recompute_elements_per_token(const MLAConfig& cfg);

// The same for a whole block (set_recompute(Block&)): MLA's share plus the two block norms'
// outputs, hidden_size each.
int64_t block_recompute_elements_per_token(const MLAConfig& cfg, int64_t hidden_size);

}  // namespace ds::ch03
