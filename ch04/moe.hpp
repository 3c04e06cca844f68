// The DeepSeekMoE layer (DeepSeek-V3 eq. 12): h' = u + sum_shared FFN_i(u) + sum_routed g_i FFN_i(u).
// Fine-grained routed experts (small SwiGLUs, ch02::SwiGLU, so each has its checkpoint names)
// and shared experts that every token uses. The routed experts run as one op (routed_experts.hpp):
// each expert's tokens are gathered and go through one GEMM chain, never a dense loop over all
// experts for all tokens.
// Names as DeepSeek-V3's checkpoint: mlp.gate, mlp.experts.{j}, mlp.shared_experts.
#pragma once

#include <memory>
#include <vector>

#include "ch02/layers.hpp"
#include "ch04/gate.hpp"
#include "ch04/routed_experts.hpp"

namespace ds::ch04 {

struct MoEConfig {
  GateConfig gate;
  int64_t moe_intermediate_size = 128;   // width of each routed expert
  int64_t n_shared_experts = 1;          // fused into one SwiGLU of n_shared x width, as V3 stores them
  // Classic MoE's expert capacity (GShard, Switch; DeepSeek-V2's token dropping): each expert takes
  // at most ceil(capacity_factor * N * k / E) of a batch's N tokens, keeping those with the largest
  // routing weights; the rest of its tokens pass through without it. 0 = no limit (DeepSeek-V3).
  float capacity_factor = 0.f;
};

class MoE : public ch02::FeedForwardLayer {
 public:
  MoE(const MoEConfig& cfg, Rng& rng);
  Tensor forward(const Tensor& x) override;   // x [..., C] -> [..., C]
  const Routing& last_routing() const { return last_; }   // of the latest forward (loads, balance losses)
  int64_t last_dropped() const { return dropped_; }         // (token, expert) pairs capacity dropped in it
  const MoEConfig& config() const { return cfg_; }

  Gate gate;
  std::vector<std::unique_ptr<ch02::SwiGLU>> experts;
  std::unique_ptr<ch02::SwiGLU> shared_experts;
  ExpertWeights expert_weights() const;   // the routed experts' weight tensors, for routed_experts()

 private:
  MoEConfig cfg_;
  Routing last_;
  int64_t dropped_ = 0;
};

}  // namespace ds::ch04
