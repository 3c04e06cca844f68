// The SFT stand-in: the batch layout grades only the completion, and the loss is the
// cross-entropy over exactly those tokens.
#include <doctest/doctest.h>

#include "ch08/task_sft.hpp"
#include "ch08/tests/tiny_task.hpp"
#include "common/ops.hpp"

using namespace ds;
using namespace ds::ch08;

TEST_CASE("sft_batch: prompt + completion from position 0, targets only on completion tokens, right padding") {
  const std::vector<TaskExample> ex = {{{5, 6, 7}, {8, 9}}, {{1}, {2, 3, 4}}};
  const Batch b = sft_batch(ex, 0);
  REQUIRE(b.inputs.shape == Shape{2, 4});
  CHECK(b.inputs.data == std::vector<int32_t>{5, 6, 7, 8, /**/ 1, 2, 3, 0});
  CHECK(b.targets.data == std::vector<int32_t>{-100, -100, 8, 9, /**/ 2, 3, 4, -100});
  CHECK_THROWS_AS(sft_batch({{{1}, {}}}, 0), std::invalid_argument);
  CHECK_THROWS_AS(sft_batch({}, 0), std::invalid_argument);
}

TEST_CASE("reference_example: the compact template's prompt, R1's completion format, ending with <|endoftext|>") {
  const auto& w = test::tiny_task();
  const TaskExample& e = w.train_ex.front();
  CHECK(w.tok.decode(e.prompt) == ch07::ChatTemplate::compact().prompt(w.train.front().question));
  CHECK(e.completion.back() == w.tok.eot_id());
  CHECK(ch07::format_reward(w.tok.decode(e.completion)) == 1.f);
}

TEST_CASE("sft_loss: the mean cross-entropy over the completion tokens only") {
  const auto& w = test::tiny_task();
  auto model = test::tiny_model(1);
  const Batch b = sft_batch({w.train_ex[0], w.train_ex[40]}, w.tok.eot_id());
  const Tensor logits = model->forward(b.inputs);
  const int64_t v = logits.size(2);
  double sum = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < b.targets.numel(); ++i) {
    if (b.targets[i] == -100) continue;
    const Tensor row = log_softmax(reshape(slice(reshape(logits, {-1, v}), 0, i, i + 1), {v}));
    sum -= row[b.targets[i]];
    ++n;
  }
  CHECK(sft_loss(*model, b).value.item() == doctest::Approx(sum / double(n)).epsilon(1e-5));
}
