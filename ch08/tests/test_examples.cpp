// The chapter's examples are ch07's SFT data: the codec's prompt and completion, batched by
// ch07::sft_batch; the answers-only completion differs from the worked one only in its <think>.
#include <doctest/doctest.h>

#include "ch07/sft.hpp"
#include "ch07/verifiers.hpp"
#include "ch08/examples.hpp"
#include "ch08/tests/tiny_task.hpp"

using namespace ds;
using namespace ds::ch08;

TEST_CASE("reference_example: the compact template's prompt, R1's completion format, ending with <|endoftext|>") {
  const auto& w = test::tiny_task();
  const TaskExample& e = w.train_ex.front();
  CHECK(w.codec.text(e.prompt) == ch07::ChatTemplate::compact().prompt(w.train.front().question));
  CHECK(e.completion.back() == w.codec.eot());
  CHECK(ch07::format_reward(w.codec.text(e.completion)) == 1.f);
}

TEST_CASE("answer_example: the same prompt and answer with an empty reasoning block, still R1's format") {
  const auto& w = test::tiny_task();
  const ch07::Problem& p = w.train[40];   // a 2-digit addition: its worked solution is not empty
  const TaskExample a = answer_example(w.codec, p), r = reference_example(w.codec, p);
  CHECK(a.prompt == r.prompt);
  CHECK(a.completion.size() < r.completion.size());
  CHECK(w.codec.text(a.completion).find("<think>  </think>") != std::string::npos);
  CHECK(ch07::score(p, w.codec.text(a.completion)).accuracy == 1.f);
  CHECK(ch07::format_reward(w.codec.text(a.completion)) == 1.f);
}

TEST_CASE("example_batch is ch07::sft_batch of the prompts and completions, example_tokens counts them without padding") {
  const auto& w = test::tiny_task();
  const std::vector<TaskExample> ex = {w.train_ex[0], w.train_ex[40], w.train_ex[7]};
  const Batch b = example_batch(ex, w.codec.eot());
  const Batch c = ch07::sft_batch(w.codec, {w.train[0], w.train[40], w.train[7]});
  CHECK(b.inputs.data == c.inputs.data);
  CHECK(b.targets.data == c.targets.data);
  int64_t n = 0;
  for (const auto& e : ex) n += static_cast<int64_t>(e.prompt.size() + e.completion.size()) - 1;
  CHECK(example_tokens(ex) == n);
  CHECK(example_tokens(ex) < b.inputs.numel());   // the rows differ in length, so the batch has padding
}
