// The comparison's yardsticks: agreement with oneself is 1, the validation loss is SFT's loss,
// and greedy accuracy is ch07's verifier on generate()'s completions.
#include <doctest/doctest.h>

#include "ch02/generate.hpp"
#include "ch07/sft.hpp"
#include "ch07/verifiers.hpp"
#include "ch08/task_eval.hpp"
#include "ch08/tests/tiny_task.hpp"

using namespace ds;
using namespace ds::ch08;

TEST_CASE("top1_agreement: 1 with a copy of itself, below 1 against another model") {
  const auto& w = test::tiny_task();
  auto a = test::tiny_model(7);
  auto copy = a->clone();
  auto b = test::tiny_model(8);
  CHECK(top1_agreement(*a, *copy, w.test_ex, w.codec.tok.eot_id(), 5) == 1.0);
  CHECK(top1_agreement(*a, *b, w.test_ex, w.codec.tok.eot_id(), 5) < 1.0);
}

TEST_CASE("completion_loss: the token-weighted mean of sft_loss, whatever the batch size") {
  const auto& w = test::tiny_task();
  auto m = test::tiny_model(9);
  const double all = completion_loss(*m, w.test_ex, w.codec.tok.eot_id(), 100);
  CHECK(all == doctest::Approx(ch07::sft_loss(*m)(example_batch(w.test_ex, w.codec.tok.eot_id())).value.item()).epsilon(1e-5));
  CHECK(completion_loss(*m, w.test_ex, w.codec.tok.eot_id(), 3) == doctest::Approx(all).epsilon(1e-5));
}

TEST_CASE("score_on_task: greedy completions scored by the verifiers, the same in batches of any size") {
  const auto& w = test::tiny_task();
  auto m = test::tiny_model(10);
  const TaskScore s = score_on_task(*m, w.codec, w.test, 12, 4);
  REQUIRE(s.completions.size() == w.test.size());
  double acc = 0;
  for (size_t i = 0; i < w.test.size(); ++i) acc += ch07::score(w.test[i], w.codec.tok.decode(s.completions[i])).accuracy;
  CHECK(s.accuracy == doctest::Approx(acc / double(w.test.size())));
  CHECK(score_on_task(*m, w.codec, w.test, 12, 64).completions == s.completions);
  CHECK(m->mla_mode() == ch03::MLAMode::Naive);   // decoding's absorbed mode is undone
}
