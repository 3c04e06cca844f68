#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "ch02/next_token_loss.hpp"
#include "ch04/balance_hook.hpp"
#include "ch04/moe_model.hpp"
#include "common/autograd.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch04;

namespace {
// Copies every parameter's gradient just before the optimizer step.
struct GradCapture : TrainerHook {
  explicit GradCapture(NamedTensors p) : params(std::move(p)) {}
  void before_step(StepStats&) override {
    grads.clear();
    for (auto& [name, t] : params) grads.push_back(t.grad().defined() ? t.grad().clone() : Tensor::zeros(t.shape()));
  }
  NamedTensors params;
  std::vector<Tensor> grads;
};

float max_abs(const Tensor& t) {
  float m = 0;
  for (float v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}
}  // namespace

TEST_CASE("balance hook: balance losses only in training, validation is plain cross-entropy") {
  CorpusData data = default_corpus_dataset(40000, 300, 1);
  MoEModelConfig cfg = program_moe_config(data.tokenizer.vocab_size(), true);
  Rng rng(7);
  auto model = make_moe_model(cfg, rng);
  const auto layers = moe_layers(*model);
  REQUIRE(layers.size() == 1);
  Rng brng(8);
  const Batch b = data.dataset.sample_batch(Split::Train, 2, 16, brng);
  const double ce = ch02::next_token_loss(*model)(b).value.item();
  BalanceConfig bc;
  bc.strategy = Balancing::AuxLoss;
  bc.aux_alpha = 0.5f;
  BalanceHook hook(layers, bc);
  const LossFn loss = with_balance_loss(ch02::next_token_loss(*model), hook);
  CHECK(loss(b).value.item() >= ce + 0.5 - 1e-4);   // alpha * sum f P >= alpha
  {
    NoGradGuard ng;
    CHECK(loss(b).value.item() == doctest::Approx(ce));
  }
  StepStats s;
  hook.after_step(s);
  CHECK(s.metrics.has("maxvio"));
  REQUIRE(hook.load_shares(0).size() == 1);
  CHECK(hook.load_shares(0)[0].size() == 8);
  BalanceHook restored(layers, bc);
  restored.load_state(hook.state());
  CHECK(restored.load_shares(0) == hook.load_shares(0));
  // A training forward whose balance loss never reached a loss is a bug, not a silent skip.
  model->forward(b.inputs);
  CHECK_THROWS_AS(hook.after_step(s), std::logic_error);
}

TEST_CASE("balance hook: 4 micro-batches of 2 sequences give the bias update and gradients of one batch of 8") {
  CorpusData data = default_corpus_dataset(40000, 300, 2);
  MoEModelConfig cfg = program_moe_config(data.tokenizer.vocab_size(), true);
  Rng brng(3);
  const Batch batch = data.dataset.sample_batch(Split::Train, 8, 16, brng);
  struct Run {
    std::vector<Tensor> grads;
    std::vector<float> bias;
    double loss = 0;
  };
  auto run = [&](int64_t micro_batches) {
    Rng rng(11);
    auto model = make_moe_model(cfg, rng);
    BalanceConfig bc;
    bc.strategy = Balancing::V3;   // the sequence-wise loss (a mean over sequences) and the bias
    bc.seq_alpha = 0.1f;           // large enough to matter in the gradients
    bc.gamma = 0.01f;
    BalanceHook balance(moe_layers(*model), bc);
    GradCapture capture(model->named_parameters());
    TrainerConfig tc;
    tc.batch_size = 8;
    tc.seq_len = 16;
    tc.micro_batches = micro_batches;
    tc.progress = false;
    Trainer trainer(model->named_parameters(), tc, with_balance_loss(ch02::next_token_loss(*model), balance));
    trainer.add_hook(capture);
    trainer.add_hook(balance);
    Run r;
    r.loss = trainer.train_step(batch).loss;
    r.grads = capture.grads;
    r.bias = moe_layers(*model)[0]->gate.e_score_correction_bias.to_vector();
    return r;
  };
  const Run whole = run(1), micro = run(4);
  CHECK(micro.loss == doctest::Approx(whole.loss).epsilon(1e-6));
  // The loads of all four micro-batches reach the bias update: the same sign for every expert.
  CHECK(micro.bias == whole.bias);
  CHECK(std::count(whole.bias.begin(), whole.bias.end(), 0.f) < static_cast<std::ptrdiff_t>(whole.bias.size()));   // it moved
  // Gradients: the same sums in another order, so equal to float rounding (2e-5 of each
  // tensor's largest entry; measured at most about 1e-6).
  REQUIRE(whole.grads.size() == micro.grads.size());
  float worst = 0;
  for (size_t i = 0; i < whole.grads.size(); ++i) {
    const float scale = std::max(max_abs(whole.grads[i]), 1e-12f);
    worst = std::max(worst, test::max_abs_diff(whole.grads[i], micro.grads[i]) / scale);
  }
  MESSAGE("largest gradient difference relative to its tensor's largest entry: " << worst);
  CHECK(worst < 2e-5f);
}
