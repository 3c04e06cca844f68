#include <doctest/doctest.h>

#include "ch07/plateau.hpp"
#include "ch07/sft.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
bool same_weights(const Module& a, const Module& b) {
  const NamedTensors x = a.state_dict(), y = b.state_dict();
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    for (int64_t j = 0; j < x[i].second.numel(); ++j)
      if (x[i].second.data()[j] != y[i].second.data()[j]) return false;
  return true;
}
}  // namespace

TEST_CASE("PlateauStop: a tie is no improvement, and it stops after patience probes without a new best") {
  PlateauStop p;
  p.patience = 3;
  CHECK(p.observe(10, 40));
  CHECK(p.observe(30, 80));
  CHECK_FALSE(p.observe(30, 120));   // equal to the best: not better
  CHECK_FALSE(p.observe(25, 160));
  CHECK_FALSE(p.done());
  CHECK_FALSE(p.observe(29, 200));
  CHECK(p.done());
  CHECK(p.best == 30);
  CHECK(p.best_step == 80);
  CHECK(p.observe(31, 240));         // a new best resets the count
  CHECK_FALSE(p.done());
  CHECK(p.since_best == 0);

  PlateauStop d;
  d.patience = 1;
  d.min_delta = 2;
  CHECK(d.observe(50, 1));
  CHECK_FALSE(d.observe(51.5, 2));   // within min_delta of the best
  CHECK(d.done());
  CHECK(d.best == 50);
}

TEST_CASE("the convergence stop on real SFT: it stops at the plateau and the model gets back the best probe's weights") {
  const TaskCodec codec{task_tokenizer(Task::addition, 300, 4), ChatTemplate::compact()};
  Rng init(5);
  ch06::DeepSeekModel model(task_model_config("tiny", codec.tok.vocab_size()), init);
  SftTrainer sft(model, post_training_config(20, 4, 3e-3f, 3e-3f));
  // The validation scores of probes after steps 2, 4, 6, ...: best at step 4, then a plateau.
  const std::vector<double> scores = {10, 40, 35, 40, 20, 39, 50};
  PlateauStop plateau;
  plateau.patience = 3;
  Snapshot best;
  std::unique_ptr<ch06::DeepSeekModel> at_best;
  size_t probes = 0;
  Rng rng(9);
  const int64_t steps = sft_steps(sft, codec, Task::addition, {1, 2}, 20, rng, [&](const StepStats& s) {
    if (s.step % 2) return true;
    if (plateau.observe(scores.at(probes++), s.step)) {
      best.take(model);
      at_best = model.clone();
    }
    return !plateau.done();
  });
  CHECK(steps == 10);   // the probe after step 10 is the third without a new best
  CHECK(probes == 5);
  CHECK(plateau.best_step == 4);
  REQUIRE(at_best);
  CHECK_FALSE(same_weights(model, *at_best));   // training went on past the best
  best.restore(model);
  CHECK(same_weights(model, *at_best));         // parameters and buffers (routing biases) of step 4

  Snapshot none;
  CHECK_THROWS_AS(none.restore(model), std::logic_error);
}
