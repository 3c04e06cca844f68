#include "ch02/sampling_flags.hpp"

namespace ds::ch02 {

Flags::Flag& add_sampling_flags(Flags& flags, SamplingConfig& sc, const std::string& tokens_flag) {
  Flags::Flag& tokens = flags.add(tokens_flag, sc.max_new_tokens, "tokens to generate").min(0);
  flags.add("--temperature", sc.temperature, "sampling temperature (0 = greedy)").min(0);
  flags.add("--top-k", sc.top_k, "sample among the k most likely tokens (0 = all)").min(0);
  flags.add("--top-p", sc.top_p, "sample among the most likely tokens whose probabilities add up to p (1 = all)").min(0.01).max(1);
  return tokens;
}

}  // namespace ds::ch02
