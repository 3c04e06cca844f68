// The comparison's training runs: each method is the plain one where it should be (logit KD at
// alpha 0 is SFT; GKD at lambda 0, beta 0 is logit KD at alpha 1), and lambda controls how many
// batches the student samples.
#include <doctest/doctest.h>

#include "ch08/compare.hpp"
#include "ch08/tests/tiny_task.hpp"

using namespace ds;
using namespace ds::ch08;

namespace {
RunConfig tiny_run() {
  RunConfig rc;
  rc.train.steps = 3;
  rc.train.batch_size = 4;
  rc.train.warmup = 1;
  rc.train.progress = false;
  rc.evals = 1;
  rc.max_new_tokens = 6;
  rc.gkd.max_new_tokens = 6;
  return rc;
}
void check_same_weights(const ch06::DeepSeekModel& a, const ch06::DeepSeekModel& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i)
    for (int64_t j = 0; j < pa[i].second.numel(); ++j) REQUIRE(pa[i].second[j] == pb[i].second[j]);
}
}  // namespace

TEST_CASE("train_task_model: logit KD with alpha 0 trains exactly as plain SFT from scratch") {
  const CompareData d = test::tiny_compare_data();
  auto teacher = test::tiny_model(20, true);
  auto a = test::tiny_model(21), b = test::tiny_model(21);
  RunConfig rc = tiny_run();
  rc.kd.alpha = 0.f;
  const Curves ca = train_task_model(Method::scratch, *a, teacher.get(), d, rc);
  const Curves cb = train_task_model(Method::logit_kd, *b, teacher.get(), d, rc);
  CHECK(ca.loss == cb.loss);
  CHECK(ca.accuracy == cb.accuracy);
  CHECK(ca.eval_step == std::vector<double>{0, 3});
  check_same_weights(*a, *b);
  // Student compute: 3 per trained token, padding not counted, the teacher's forwards not charged.
  CHECK(ca.compute > 0);
  CHECK(ca.compute == cb.compute);
  CHECK(ca.compute <= kTrainCost * static_cast<double>(ca.tokens));
  CHECK(ca.eval_compute == std::vector<double>{0, ca.compute});
}

TEST_CASE("train_task_model: GKD with lambda 0 and beta 0 is logit KD with alpha 1 at the same temperature") {
  const CompareData d = test::tiny_compare_data();
  auto teacher = test::tiny_model(22, true);
  auto a = test::tiny_model(23), b = test::tiny_model(23);
  RunConfig rc = tiny_run();
  rc.kd = {.alpha = 1.f, .temperature = 2.f};
  rc.gkd.lambda = 0.f;
  rc.gkd.beta = 0.f;
  rc.gkd.temperature = 2.f;
  const Curves ca = train_task_model(Method::logit_kd, *a, teacher.get(), d, rc);
  const Curves cb = train_task_model(Method::gkd, *b, teacher.get(), d, rc);
  CHECK(cb.on_policy_batches == 0);
  for (size_t i = 0; i < ca.loss.size(); ++i) CHECK(ca.loss[i] == doctest::Approx(cb.loss[i]).epsilon(1e-6));
  check_same_weights(*a, *b);
}

TEST_CASE("train_task_model: lambda 1 samples every batch from the student, and sequence KD without data says why") {
  const CompareData d = test::tiny_compare_data();
  auto teacher = test::tiny_model(24, true);
  auto s = test::tiny_model(25);
  RunConfig rc = tiny_run();
  rc.gkd.lambda = 1.f;
  const Curves c = train_task_model(Method::gkd, *s, teacher.get(), d, rc);
  CHECK(c.on_policy_batches == 3);
  CHECK(c.tokens > 0);
  CHECK_THROWS_WITH_AS(train_task_model(Method::sequence_kd, *s, teacher.get(), d, rc), doctest::Contains("rejected"), std::runtime_error);
  CHECK_THROWS_AS(train_task_model(Method::gkd, *s, nullptr, d, rc), std::invalid_argument);
}

TEST_CASE("train_task_model: sequence KD on the reference completions is plain SFT from scratch") {
  CompareData d = test::tiny_compare_data();
  d.distill = d.train;
  auto teacher = test::tiny_model(26, true);
  auto a = test::tiny_model(27), b = test::tiny_model(27);
  const Curves ca = train_task_model(Method::scratch, *a, teacher.get(), d, tiny_run());
  const Curves cb = train_task_model(Method::sequence_kd, *b, teacher.get(), d, tiny_run());
  CHECK(ca.loss == cb.loss);
  CHECK(ca.agreement == cb.agreement);
  check_same_weights(*a, *b);
}
