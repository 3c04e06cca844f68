#include <doctest/doctest.h>

#include "ch02/small_model.hpp"
#include "ch02/train.hpp"

using namespace ds;
using namespace ds::ch02;

TEST_CASE("train: the loop lowers the validation loss and records its history") {
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
  TrainConfig tc;
  tc.steps = 40;
  tc.seq_len = 32;
  tc.eval_every = 20;
  tc.progress = false;
  const TrainHistory h = train(*model, data.dataset, tc);
  CHECK(h.step.size() == 40);
  CHECK(h.eval_step == std::vector<double>{0, 20, 40});
  CHECK(h.val_loss.back() < h.val_loss.front() - 0.5);
  CHECK(h.best_val_loss <= h.final_val_loss);
  CHECK(h.tokens_per_second > 0);
}
