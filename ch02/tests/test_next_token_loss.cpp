#include <doctest/doctest.h>

#include "ch02/next_token_loss.hpp"
#include "ch02/small_model.hpp"
#include "common/ops.hpp"

using namespace ds;
using namespace ds::ch02;

TEST_CASE("next_token_loss: the trainer lowers a small model's validation loss and records its history") {
  const CorpusData data = default_corpus_dataset(100000, 300, 5);
  SmallModelConfig mc;
  mc.vocab_size = data.tokenizer.vocab_size();
  mc.hidden_size = 32;
  mc.num_layers = 1;
  mc.num_heads = 2;
  mc.num_kv_heads = 1;
  mc.intermediate_size = 64;
  Rng rng(1);
  auto model = make_small_model(mc, rng);
  TrainerConfig tc;
  tc.steps = 40;
  tc.seq_len = 32;
  tc.eval_every = 20;
  tc.progress = false;
  Trainer trainer(model->named_parameters(), tc, next_token_loss(*model));
  const TrainHistory& h = trainer.run(data.dataset);
  CHECK(h.step.size() == 40);
  CHECK(h.eval_step == std::vector<double>{0, 20, 40});
  CHECK(h.val.at("loss").back() < h.val.at("loss").front() - 0.5);
  CHECK(h.best_val() <= h.final_val());
  CHECK(h.tokens_per_second() > 0);
  // The loss is cross_entropy(model.forward(inputs), targets).
  Rng brng(2);
  const Batch b = data.dataset.sample_batch(Split::Val, 2, 16, brng);
  CHECK(next_token_loss(*model)(b).value.item() == cross_entropy(model->forward(b.inputs), b.targets).item());
}
