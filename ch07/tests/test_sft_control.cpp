#include <doctest/doctest.h>

#include "ch07/sft_control.hpp"

using namespace ds;
using namespace ds::ch07;

TEST_CASE("sft_control: the SFT steps on the labelled set's batches, the same as sft_steps on the same draws") {
  const TaskCodec codec{task_tokenizer(Task::addition, 300, 4), ChatTemplate::compact()};
  Rng init(3);
  ch06::DeepSeekModel a(task_model_config("tiny", codec.tok.vocab_size()), init);
  std::unique_ptr<ch06::DeepSeekModel> b = a.clone();
  LabelledSet labelled;
  labelled.long_lengths = {2};
  labelled.long_examples = 8;
  ControlConfig cc;
  cc.seconds = 1e9;
  cc.max_steps = 3;
  cc.batch = 4;
  cc.seed = 11;
  const std::vector<Problem> probe = problem_set(Task::addition, 2, ch07::Split::test, 3, 1);
  const ControlTrace t = sft_control(a, codec, labelled, probe, cc);
  CHECK(t.steps == 3);
  CHECK(t.seconds > 0);
  REQUIRE(t.probe_em.size() == 2);   // the start and the end
  CHECK(t.probe_seconds.front() == 0);

  // By hand: the same trainer settings, the same draws from the labelled set.
  TrainerConfig tc;
  tc.steps = 3;
  tc.batch_size = 4;
  tc.lr = cc.lr;
  tc.min_lr = cc.lr;
  tc.warmup = 5;
  tc.weight_decay = 0.f;
  tc.progress = false;
  SftTrainer sft(*b, tc);
  const std::vector<Problem> pool = labelled.long_problems();
  Rng rng(11);
  for (int i = 0; i < 3; ++i) sft.step(sft_batch(codec, labelled.draw(pool, 4, rng)));
  const auto pa = a.named_parameters(), pb = b->named_parameters();
  REQUIRE(pa.size() == pb.size());
  bool moved = false;
  int64_t differ = 0;
  for (size_t i = 0; i < pa.size(); ++i)
    for (int64_t j = 0; j < pa[i].second.numel(); ++j) differ += pa[i].second.data()[j] != pb[i].second.data()[j];
  CHECK(differ == 0);
  Rng again(3);
  ch06::DeepSeekModel fresh(task_model_config("tiny", codec.tok.vocab_size()), again);
  const auto pf = fresh.named_parameters();
  for (size_t i = 0; i < pa.size() && !moved; ++i)
    for (int64_t j = 0; j < pa[i].second.numel(); ++j) moved |= pa[i].second.data()[j] != pf[i].second.data()[j];
  CHECK(moved);
}
