// All routed experts of a MoE layer as one coarse autograd op, the way the core treats a whole
// attention: dispatch (gather each expert's tokens), one SwiGLU GEMM chain per expert, combine
// (weight and sum each token's expert outputs), with the backward written beside it.
// Experts run in parallel, one per thread, each GEMM on its thread: a 64-row expert GEMM is
// too small to split across threads (small GEMMs lose to threading overhead: parallelise across experts, not inside them).
#pragma once

#include <cstdint>
#include <vector>

#include "common/tensor.hpp"

namespace ds::ch04 {

struct ExpertWeights {
  std::vector<Tensor> gate_proj, up_proj;   // each [W, C]
  std::vector<Tensor> down_proj;            // each [C, W]
};

// x is [N, C]; slot_weights is [N * k], the combine weight g of slot t * k + s (token t's s-th
// choice); slots[j] lists the slots expert j serves, ascending (a slot in no list contributes
// nothing: capacity dropped it). Returns [N, C]:
//   out[t] = sum over served slots t*k+s of g[t*k+s] * down_j(silu(gate_j(x[t])) * up_j(x[t])).
// Differentiable in x, slot_weights and every expert weight. In a split backward (B, then W;
// common/autograd.hpp) B keeps what it computed of each expert's backward, so W only runs the
// weight-gradient GEMMs.
Tensor routed_experts(const Tensor& x, const Tensor& slot_weights, int64_t k, const std::vector<std::vector<int32_t>>& slots,
                      const ExpertWeights& w);

// The same with ordinary differentiable ops, to test the fused op against, values and gradients:
// each expert gathers its tokens (gather_rows), runs its SwiGLU with linear/silu/mul, scales by
// the slots' weights and scatter-adds into the output (scatter_add_rows).
Tensor routed_experts_reference(const Tensor& x, const Tensor& slot_weights, int64_t k, const std::vector<std::vector<int32_t>>& slots,
                                const ExpertWeights& w);

}  // namespace ds::ch04
