// PPO's critic as a head on the model's trunk: V(s_t) = w . h_t + b, one scalar per
// position, read from the final hidden states (after model.norm, where lm_head reads). Named
// as TRL's AutoModelForCausalLMWithValueHead stores it, v_head.summary.{weight [1, C], bias [1]},
// so a checkpoint with a value head has the layout of one written by the Python tools.
#pragma once

#include "common/nn.hpp"

namespace ds::ch07 {

class ValueHead : public Module {
 public:
  ValueHead(int64_t hidden, Rng& rng, float init_std);   // weight normal(0, init_std), bias 0
  Tensor forward(const Tensor& hidden) const;            // [B, T, C] -> values [B, T]
  Linear summary;
};

}  // namespace ds::ch07
