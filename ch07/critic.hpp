// PPO's critic (DeepSeekMath sec. 4.1.1): a value model of the policy's size, here a copy of the
// policy's trunk with a scalar value head (value_head.hpp) over its final hidden states. Its
// names are the model's plus v_head.summary.*, TRL's AutoModelForCausalLMWithValueHead layout, so
// a saved critic is a model checkpoint with two more tensors in model.safetensors.
#pragma once

#include <memory>
#include <string>

#include "ch02/transformer.hpp"
#include "ch06/checkpoint.hpp"
#include "ch06/model.hpp"
#include "ch07/value_head.hpp"

namespace ds::ch07 {

class Critic : public Module {
 public:
  // A copy of `policy` with a fresh value head drawn from rng (normal(0, initializer_range), bias 0).
  Critic(const ch06::DeepSeekModel& policy, Rng& rng);
  // ids [B, T] -> values [B, T], V(s_t) read at every position.
  Tensor values(const IntTensor& ids, const ch02::ForwardOptions& opt = {});
  std::unique_ptr<ch06::DeepSeekModel> model;
  ValueHead v_head;
};

// config.json, model.safetensors (the model's tensors and v_head.*) and tokenizer.json, atomically.
void save_critic(const std::string& dir, const Critic& critic, const Tokenizer& tok);
// The critic save_critic wrote; a folder without v_head.* is refused in one sentence.
std::unique_ptr<Critic> load_critic(const std::string& dir);

}  // namespace ds::ch07
