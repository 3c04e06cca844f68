// The router of DeepSeekMoE as DeepSeek-V3 defines it (V3 section 2.1.2, eqs. 12-16, and
// inference/model.py's Gate): affinity scores s = sigmoid(u W^T) (or softmax as in V2); a
// selection-only bias b (e_score_correction_bias) added to the scores to choose experts, never
// to the weights; group-limited routing (experts in n_group groups, only the topk_group groups
// with the largest sum of their top-2 biased scores are eligible); weights from the unbiased
// scores of the chosen experts, normalised to sum to 1 when norm_topk_prob, times
// routed_scaling_factor.
#pragma once

#include <string>

#include "common/nn.hpp"

namespace ds::ch04 {

struct GateConfig {
  int64_t hidden_size = 256;
  int64_t n_routed_experts = 16;
  int64_t num_experts_per_tok = 2;
  int64_t n_group = 1, topk_group = 1;
  std::string scoring_func = "sigmoid";   // or "softmax"
  bool norm_topk_prob = true;
  float routed_scaling_factor = 1.f;
  float init_std = 0.02f;
};

struct Routing {
  IntTensor experts;   // [N, k] chosen expert ids
  Tensor weights;      // [N, k] combine weights (differentiable through the gate's scores)
  Tensor scores;       // [N, E] unbiased affinities (for balance losses and plots)
};

class Gate : public Module {
 public:
  explicit Gate(const GateConfig& cfg, Rng& rng);
  Routing forward(const Tensor& x) const;   // x [N, C]
  const GateConfig& config() const { return cfg_; }
  Tensor weight;                     // [E, C]
  Tensor e_score_correction_bias;    // [E], a buffer: updated by the balancing rule, not by gradients
 private:
  GateConfig cfg_;
};

// Expert choice for one token's scores (no autograd): the ids of the k experts the rules above
// select, for tests and walk-throughs.
std::vector<int32_t> select_experts(const std::vector<float>& scores, const std::vector<float>& bias, const GateConfig& cfg);

}  // namespace ds::ch04
