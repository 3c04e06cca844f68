#include "ch08/examples.hpp"

#include "ch07/sft.hpp"

namespace ds::ch08 {

TaskExample reference_example(const ch07::TaskCodec& codec, const ch07::Problem& p) { return {codec.prompt(p), codec.completion(p)}; }

TaskExample answer_example(const ch07::TaskCodec& codec, const ch07::Problem& p) {
  ch07::Problem bare = p;
  bare.reasoning.clear();
  return {codec.prompt(p), codec.completion(bare)};
}

Batch example_batch(const std::vector<TaskExample>& examples, int32_t pad) {
  std::vector<std::vector<int32_t>> prompts, completions;
  for (const TaskExample& e : examples) {
    prompts.push_back(e.prompt);
    completions.push_back(e.completion);
  }
  return ch07::sft_batch(prompts, completions, pad);
}

int64_t example_tokens(const std::vector<TaskExample>& examples) {
  int64_t n = 0;
  for (const TaskExample& e : examples) n += static_cast<int64_t>(e.prompt.size() + e.completion.size()) - 1;
  return n;
}

}  // namespace ds::ch08
