#include <doctest/doctest.h>

#include <cmath>

#include "ch02/score.hpp"
#include "common/gradcheck.hpp"
#include "generation_checks.hpp"
#include "test_helpers_ch02.hpp"

using namespace ds;
using namespace ds::ch02;

TEST_CASE("pack_sequences: prompts left-padded, completions right-padded, targets -100 past each end") {
  const SequenceBatch s = pack_sequences({{5, 6}, {7}}, {{1}, {2, 3, 4}});
  CHECK(s.prompt_len == 2);
  CHECK(s.ids.shape == Shape{2, 5});
  CHECK(s.ids.data == std::vector<int32_t>{5, 6, 1, 0, 0, /**/ 0, 7, 2, 3, 4});
  CHECK(s.attention_mask.data == std::vector<int32_t>{1, 1, 1, 0, 0, /**/ 0, 1, 1, 1, 1});
  CHECK(s.targets.data == std::vector<int32_t>{1, -100, -100, /**/ 2, 3, 4});
  CHECK_THROWS_AS(pack_sequences({{5}}, {{1}, {2}}), std::invalid_argument);
  CHECK_THROWS_AS(pack_sequences({{}}, {{1}}), std::invalid_argument);
}

TEST_CASE("score_completions: reproduces generate's log-probs and completion mask on a padded batch") {
  const auto prompts = test::mixed_prompts(50);
  auto model = test::tiny_lm(4, 2, 5, 32, true);
  SamplingConfig sc;
  sc.max_new_tokens = 8;
  sc.temperature = 1.f;
  sc.top_k = 20;
  sc.seed = 3;
  const Generation g = generate(*model, prompts, sc);
  sc.stop_tokens = {g.tokens[0][2]};   // row 0 ends early: its scores past the end must be masked
  const Generation gs = generate(*model, prompts, sc);
  for (const Generation* gen : {&g, &gs}) {
    const TokenScores s = score_completions(*model, prompts, gen->tokens);
    CHECK(s.log_probs.shape() == gen->logprobs.shape());
    CHECK(s.mask.to_vector() == gen->completion_mask.to_vector());
    float worst = 0;
    for (int64_t i = 0; i < s.log_probs.numel(); ++i) worst = std::max(worst, std::abs(s.log_probs.data()[i] - gen->logprobs.data()[i]));
    CHECK(worst < 1e-4f);
  }
}

TEST_CASE("score_completions: the prompt's padding and what follows a completion change nothing") {
  auto model = test::tiny_lm(4, 4, 6, 32, true);
  SequenceBatch s = pack_sequences({{9, 8, 7}, {6}}, {{1, 2}, {3, 4, 5}});
  const TokenScores a = score_completions(*model, s);
  s.ids.data[5] = 33;   // row 1's left padding
  s.ids.data[4] = 44;   // after row 0's completion
  const TokenScores b = score_completions(*model, s);
  CHECK(a.log_probs.to_vector() == b.log_probs.to_vector());
  CHECK(a.log_probs.data()[2] == 0.f);   // row 0 has 2 completion tokens of 3 columns
  CHECK(a.mask.to_vector() == std::vector<float>{1, 1, 0, 1, 1, 1});
}

TEST_CASE("score_completions: gradients of the log-probs with respect to the weights (finite differences)") {
  auto model = test::tiny_lm(4, 2, 7, 16, true);
  const SequenceBatch s = pack_sequences({{9, 8, 7}, {6}}, {{1, 2}, {3, 4, 5}});
  NamedTensors some;   // the head, one attention projection and the position table: every path of a padded batch
  for (const auto& [name, t] : model->named_parameters())
    if (name == "lm_head.weight" || name == "model.layers.0.self_attn.k_proj.weight" || name == "model.embed_positions") some.push_back({name, t});
  REQUIRE(some.size() == 3);
  const auto r = gradcheck_params([&] { return score_completions(*model, s).log_probs; }, some);
  INFO(r.worst);
  CHECK(r.ok);
  // the masked entry (row 0, column 2) gets no gradient: scoring only it gives all-zero gradients
  model->zero_grad();
  const TokenScores sc = score_completions(*model, s);
  sum(mul(sc.log_probs, Tensor::from({0, 0, 1, 0, 0, 0}, {2, 3}))).backward();
  for (const auto& [name, t] : model->named_parameters())
    if (t.grad().defined())
      for (float x : t.grad().to_vector()) CHECK(x == 0.f);
}
