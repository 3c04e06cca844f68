#include <doctest/doctest.h>

#include <cmath>

#include "ch07/sft.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
ch06::DeepSeekModel tiny_policy(int64_t vocab, uint64_t seed = 3) {
  Rng rng(seed);
  return ch06::DeepSeekModel(task_model_config("tiny", vocab), rng);
}
}  // namespace

TEST_CASE("sft_batch: completion tokens are the only targets, prompts and padding are -100") {
  const Batch b = sft_batch({{1, 2, 3}, {4}}, {{5, 6}, {7, 8, 9}}, 0);
  // Row 0: 1 2 3 5 6 -> inputs 1 2 3 5, targets -100 -100 5 6 (position 2 predicts the first completion token).
  // Row 1: 4 7 8 9   -> inputs 4 7 8 0, targets 7 8 9 -100.
  CHECK(b.inputs.shape == Shape{2, 4});
  CHECK(b.inputs.data == std::vector<int32_t>{1, 2, 3, 5, 4, 7, 8, 0});
  CHECK(b.targets.data == std::vector<int32_t>{-100, -100, 5, 6, 7, 8, 9, -100});
  CHECK_THROWS_AS(sft_batch({{1}}, {{}}, 0), std::invalid_argument);
  CHECK_THROWS_AS(sft_batch({{1}, {2}}, {{3}}, 0), std::invalid_argument);
}

TEST_CASE("sft_loss: the mean over completion tokens of the batch, so a long completion weighs by its tokens") {
  const TaskCodec codec{task_tokenizer(Task::addition, 300, 6), ChatTemplate::compact()};
  ch06::DeepSeekModel model = tiny_policy(codec.tok.vocab_size());
  Rng rng(5);
  const Problem short_p = sample_problem(Task::addition, 1, ch07::Split::train, rng), long_p = sample_problem(Task::addition, 6, ch07::Split::train, rng);
  {   // a few steps on the short problem, so the two completions' per-token losses differ
    TrainerConfig tc;
    tc.steps = 30;
    tc.batch_size = 1;
    tc.lr = 1e-2f;
    tc.warmup = 1;
    tc.progress = false;
    SftTrainer sft(model, tc);
    for (int i = 0; i < 30; ++i) sft.step(sft_batch(codec, {short_p}));
  }
  const LossFn loss = sft_loss(model);
  NoGradGuard ng;
  const double both = loss(sft_batch(codec, {short_p, long_p})).value.item();
  const double a = loss(sft_batch(codec, {short_p})).value.item(), b = loss(sft_batch(codec, {long_p})).value.item();
  const double na = static_cast<double>(codec.completion(short_p).size()), nb = static_cast<double>(codec.completion(long_p).size());
  CHECK(nb > 2 * na);
  CHECK(both == doctest::Approx((a * na + b * nb) / (na + nb)).epsilon(1e-5));   // per token, not per sequence
  CHECK(a < 0.5 * b);
  CHECK(both != doctest::Approx((a + b) / 2).epsilon(1e-2));   // not the mean of the two sequences' means
  // By hand: -log p of each completion token under the model.
  const Batch one = sft_batch(codec, {long_p});
  const Tensor logits = model.forward(one.inputs);
  const Tensor lp = token_log_probs(reshape(logits, {one.inputs.numel(), logits.size(-1)}), one.targets);
  double sum = 0;
  for (int64_t i = 0; i < lp.numel(); ++i) sum -= lp[i];
  CHECK(b == doctest::Approx(sum / nb).epsilon(1e-5));
}

TEST_CASE("SFT through the trainer: a tiny policy memorises one worked solution") {
  const TaskCodec codec{task_tokenizer(Task::addition, 300, 4), ChatTemplate::compact()};
  ch06::DeepSeekModel model = tiny_policy(codec.tok.vocab_size());
  Rng rng(9);
  const Problem p = sample_problem(Task::addition, 2, ch07::Split::train, rng);
  TrainerConfig tc;
  tc.steps = 80;
  tc.batch_size = 4;
  tc.lr = 1e-2f;
  tc.warmup = 5;
  tc.weight_decay = 0;
  tc.progress = false;
  SftTrainer sft(model, tc);
  const Batch batch = sft_batch(codec, {p, p, p, p});
  double first = 0, last = 0;
  for (int i = 0; i < 80; ++i) {
    const StepStats s = sft.step(batch);
    if (i == 0) first = s.loss;
    last = s.loss;
  }
  CHECK(last < 0.1 * first);
  CHECK(sft.trainer->history.train.at("token_acc").back() == doctest::Approx(1.0));
  CHECK(sft.trainer->history.step.size() == 80);
}

TEST_CASE("parse_lengths: ranges, lists, one sentence for anything else") {
  CHECK(parse_lengths("3") == std::vector<int>{3});
  CHECK(parse_lengths("1-4") == std::vector<int>{1, 2, 3, 4});
  CHECK(parse_lengths("5,7,9") == std::vector<int>{5, 7, 9});
  for (const char* bad : {"", "0", "31", "4-2", "a", "1,,2", "-3", "1-", "1000000000000"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_lengths(bad), std::invalid_argument);
  }
  CHECK_THROWS_AS(parse_lengths("5", 4), std::invalid_argument);
}
