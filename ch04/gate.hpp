// The router of DeepSeekMoE, as DeepSeek-V3 defines it (V3 section 2.1.2, eqs. 13-16;
// inference/model.py's Gate.forward) and as Hugging Face's config.json chooses among DeepSeek's
// three routing rules (topk_method):
//   s = sigmoid(u W^T) (V3) or softmax(u W^T) (V2)                           affinities, [N, E]
//   choose k experts per token:
//     "greedy"                the k largest s (DeepSeek-V2-Lite)
//     "group_limited_greedy"  experts sit in n_group groups; a group scores its best s and only
//                             the topk_group best groups are eligible (DeepSeek-V2's
//                             device-limited routing, V2 section 2.2.2)
//     "noaux_tc"              the same with s + b, b = e_score_correction_bias, a selection-only
//                             bias moved by the auxiliary-loss-free balancing rule; a group scores
//                             the sum of its two best s + b (DeepSeek-V3)
//   g = the chosen experts' unbiased s, divided by their sum when norm_topk_prob, times
//       routed_scaling_factor.
#pragma once

#include <span>
#include <string>

#include "common/nn.hpp"

namespace ds::ch04 {

struct GateConfig {
  int64_t hidden_size = 256;
  int64_t n_routed_experts = 16;
  int64_t num_experts_per_tok = 2;
  int64_t n_group = 1, topk_group = 1;
  std::string scoring_func = "sigmoid";   // or "softmax"
  std::string topk_method = "noaux_tc";   // or "greedy", "group_limited_greedy"
  bool norm_topk_prob = true;
  float routed_scaling_factor = 1.f;
  float init_std = 0.02f;
  // One sentence about the first inconsistent value, or "".
  std::string validate() const;
};

struct Routing {
  IntTensor experts;   // [N, k] chosen expert ids
  Tensor weights;      // [N, k] combine weights (differentiable through the gate's scores)
  Tensor scores;       // [N, E] unbiased affinities (for balance losses and plots)
};

class Gate : public Module {
 public:
  explicit Gate(const GateConfig& cfg, Rng& rng);   // an inconsistent config throws one sentence
  Routing forward(const Tensor& x) const;           // x [N, C]
  const GateConfig& config() const { return cfg_; }
  // Only noaux_tc has the bias (as in Hugging Face's checkpoints); otherwise it stays undefined.
  bool has_bias() const { return cfg_.topk_method == "noaux_tc"; }
  Tensor weight;                     // [E, C]
  Tensor e_score_correction_bias;    // [E], a buffer: updated by the balancing rule, not by gradients
 private:
  GateConfig cfg_;
};

// One token's choice (no autograd): the ids of its k experts, best first, by cfg.topk_method.
// scores [E]; bias [E] is used by noaux_tc (empty: zero).
std::vector<int32_t> select_experts(std::span<const float> scores, std::span<const float> bias, const GateConfig& cfg);
// How far select_experts' choice is from a tie: the smallest gap, in biased score, between the
// last group it kept and the first it dropped (group-limited routing) and between the last
// expert it chose and the first eligible one it did not. No change of the scores by less than a
// quarter of it each (a group's score sums two) can change the choice.
float selection_margin(std::span<const float> scores, std::span<const float> bias, const GateConfig& cfg);

}  // namespace ds::ch04
