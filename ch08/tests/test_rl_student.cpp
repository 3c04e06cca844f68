// The RL student spends the budget it is given, counted as compare.hpp counts every student, and
// goes through ch07's SFT and GRPO.
#include <doctest/doctest.h>

#include "ch08/rl_student.hpp"
#include "ch08/tests/tiny_task.hpp"

using namespace ds;
using namespace ds::ch08;

namespace {
RlStudentConfig tiny_rl(double budget) {
  RlStudentConfig c;
  c.sft.steps = 2;
  c.sft.batch_size = 4;
  c.sft.warmup = 1;
  c.sft.progress = false;
  c.rl.steps = 100;
  c.rl.batch_size = 3 * 2;
  c.rl.warmup = 1;
  c.rl.lr = 1e-3f;
  c.rl.progress = false;
  c.grpo.prompts = 3;
  c.grpo.group = 2;
  c.budget = budget;
  c.evals = 2;
  c.max_new_tokens = 6;
  return c;
}
}  // namespace

TEST_CASE("grpo_step_compute: a forward over every sampled sequence, one more for the reference, 3 per token per optimizer step") {
  const auto& w = test::tiny_task();
  const std::vector<ch07::Problem> probs = {w.train[0], w.train[40]};
  const double prompt = static_cast<double>(w.codec.prompt(probs[0]).size() + w.codec.prompt(probs[1]).size());
  ch07::RlStepReport rep;
  rep.accuracy = 0.25;   // 1 of 4 rows right
  rep.length_correct = 10;
  rep.length_wrong = 6;
  ch07::GrpoConfig g;
  g.group = 2;
  g.mu = 1;
  g.loss.beta = 0.f;
  const double tokens = 2 * prompt + (10 + 3 * 6) - 4;   // G x prompts + completions - one per row
  CHECK(grpo_step_compute(w.codec, probs, rep, g) == doctest::Approx((1 + 3) * tokens));
  g.loss.beta = 0.04f;
  CHECK(grpo_step_compute(w.codec, probs, rep, g) == doctest::Approx((2 + 3) * tokens));
  g.mu = 2;
  CHECK(grpo_step_compute(w.codec, probs, rep, g) == doctest::Approx((2 + 6) * tokens));
}

TEST_CASE("train_rl_student: brief SFT, then GRPO steps until the budget is spent, evaluated at the start and the end") {
  const CompareData d = test::tiny_compare_data();
  auto teacher = test::tiny_model(30, true);
  auto s = test::tiny_model(31);
  const Curves c = train_rl_student(*s, teacher.get(), d, tiny_rl(6000));
  CHECK(c.on_policy_batches >= 1);                      // GRPO ran
  CHECK(c.step.size() == 2 + static_cast<size_t>(c.on_policy_batches));
  CHECK(c.compute >= 6000);
  CHECK(c.eval_compute.front() == 0);
  CHECK(c.eval_compute.back() == c.compute);
  CHECK(c.accuracy.size() == c.eval_compute.size());

  // A budget the brief SFT alone exhausts: no GRPO step, and SFT stops as soon as it is spent.
  auto t = test::tiny_model(31);
  const Curves only = train_rl_student(*t, teacher.get(), d, tiny_rl(1));
  CHECK(only.on_policy_batches == 0);
  CHECK(only.step.size() == 1);
  CHECK_THROWS_AS(train_rl_student(*t, teacher.get(), d, tiny_rl(0)), std::invalid_argument);
}
