// GKD's pieces: the student's samples are generate()'s, the teacher's distribution is the target
// at every completion token, and logit KD's step reduces to SFT at alpha 0.
#include <doctest/doctest.h>

#include "ch02/generate.hpp"
#include "ch07/sft.hpp"
#include "ch08/gkd.hpp"
#include "ch08/tests/tiny_task.hpp"
#include "common/ops.hpp"

using namespace ds;
using namespace ds::ch08;

TEST_CASE("student_samples: the prompts kept, the completions exactly what generate() samples with that seed") {
  const auto& w = test::tiny_task();
  auto student = test::tiny_model(2);
  const std::vector<TaskExample> ex(w.train_ex.begin(), w.train_ex.begin() + 3);
  GkdConfig cfg;
  cfg.max_new_tokens = 7;
  const auto got = student_samples(*student, w.codec.tok, ex, cfg, 99);
  ch02::SamplingConfig sc;
  sc.max_new_tokens = 7;
  sc.temperature = 1.f;
  sc.stop_tokens = {w.codec.tok.eot_id()};
  sc.seed = 99;
  const ch02::Generation g = ch02::generate(*student, {ex[0].prompt, ex[1].prompt, ex[2].prompt}, sc);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(got[i].prompt == ex[i].prompt);
    CHECK(got[i].completion == g.tokens[i]);
  }
}

TEST_CASE("distill_loss: zero with the student as its own teacher, and the masked mean of the token divergence") {
  const auto& w = test::tiny_task();
  auto student = test::tiny_model(3);
  auto same = student->clone();
  auto teacher = test::tiny_model(4, true);   // a MoE teacher of the same vocabulary
  const Batch b = example_batch({w.train_ex[1], w.train_ex[50], w.train_ex[20]}, w.codec.tok.eot_id());
  CHECK(std::abs(distill_loss(*student, *same, b, {.beta = 0.5f}).value.item()) < 1e-6f);
  const DivergenceOptions o{.beta = 0.3f, .temperature = 1.5f};
  const float got = distill_loss(*student, *teacher, b, o).value.item();
  const Tensor ls = student->forward(b.inputs), lt = teacher->forward(b.inputs);
  const int64_t v = ls.size(2);
  const Tensor d = token_divergence(reshape(ls, {-1, v}), reshape(lt, {-1, v}), o);
  double sum = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < b.targets.numel(); ++i)
    if (b.targets[i] != -100) sum += d[i], ++n;
  CHECK(got == doctest::Approx(sum / double(n)).epsilon(1e-5));
}

TEST_CASE("logit_kd_step: alpha 0 is plain SFT, and the teacher gets no gradient") {
  const auto& w = test::tiny_task();
  auto student = test::tiny_model(5);
  auto teacher = test::tiny_model(6, true);
  const Batch b = example_batch({w.train_ex[2], w.train_ex[45]}, w.codec.tok.eot_id());
  const Loss kd = logit_kd_step(*student, *teacher, b, {.alpha = 0.f, .temperature = 2.f});
  CHECK(kd.value.item() == doctest::Approx(ch07::sft_loss(*student)(b).value.item()).epsilon(1e-6));
  logit_kd_step(*student, *teacher, b, {.alpha = 0.5f, .temperature = 2.f}).value.backward();
  for (const auto& [name, p] : teacher->named_parameters()) {
    INFO(name);
    CHECK_FALSE(p.grad().defined());
  }
}
