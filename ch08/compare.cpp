#include "ch08/compare.hpp"

#include <memory>
#include <stdexcept>

#include "ch04/balance_hook.hpp"
#include "ch07/sft.hpp"
#include "ch08/task_eval.hpp"
#include "common/progress.hpp"
#include "common/timer.hpp"

namespace ds::ch08 {

const char* name_of(Method m) {
  switch (m) {
    case Method::answers: return "answers";
    case Method::scratch: return "scratch";
    case Method::logit_kd: return "logit_kd";
    case Method::sequence_kd: return "sequence_kd";
    case Method::gkd: return "gkd";
  }
  return "?";
}

std::vector<Method> all_methods() { return {Method::answers, Method::scratch, Method::logit_kd, Method::sequence_kd, Method::gkd}; }

namespace {

std::vector<TaskExample> draw(const std::vector<TaskExample>& pool, int64_t n, Rng& rng) {
  std::vector<TaskExample> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(pool[static_cast<size_t>(rng.randint(static_cast<int64_t>(pool.size())))]);
  return out;
}

}  // namespace

void evaluate(Curves& c, ch06::DeepSeekModel& model, ch06::DeepSeekModel* teacher, const CompareData& data, int64_t max_new_tokens, int64_t step,
              double compute) {
  const int32_t pad = data.codec.eot();
  c.eval_step.push_back(static_cast<double>(step));
  c.eval_compute.push_back(compute);
  c.accuracy.push_back(score_on_task(model, data.codec, data.test, max_new_tokens).accuracy);
  c.val_loss.push_back(completion_loss(model, data.test_ref, pad));
  c.agreement.push_back(teacher ? top1_agreement(model, *teacher, data.test_ref, pad) : 0.0);
}

Curves train_task_model(Method m, ch06::DeepSeekModel& model, ch06::DeepSeekModel* teacher, const CompareData& data, const RunConfig& cfg) {
  if (m != Method::scratch && m != Method::answers && !teacher) throw std::invalid_argument(std::string(name_of(m)) + " needs a teacher");
  const std::vector<TaskExample>& pool = m == Method::sequence_kd ? data.distill : m == Method::answers ? data.answers : data.train;
  if (pool.empty())
    throw std::runtime_error(std::string(name_of(m)) + " has no training examples" +
                             (m == Method::sequence_kd ? " (the teacher's samples were all rejected: train the teacher longer)" : ""));
  const int32_t pad = data.codec.eot();
  LossFn loss;
  switch (m) {
    case Method::answers:
    case Method::scratch:
    case Method::sequence_kd: loss = ch07::sft_loss(model); break;
    case Method::logit_kd: loss = [&](const Batch& b) { return logit_kd_step(model, *teacher, b, cfg.kd); }; break;
    case Method::gkd:
      loss = [&](const Batch& b) { return distill_loss(model, *teacher, b, {.beta = cfg.gkd.beta, .temperature = cfg.gkd.temperature}); };
      break;
  }
  // A MoE model (the teacher) balances its experts as in pretraining: V3's bias update after each
  // step and its small sequence-wise loss (ch06's Pretrainer does the same).
  std::unique_ptr<ch04::BalanceHook> balance;
  if (!model.moe_layers().empty()) {
    balance = std::make_unique<ch04::BalanceHook>(model.moe_layers(), ch04::BalanceConfig{.strategy = ch04::Balancing::V3});
    loss = ch04::with_balance_loss(loss, *balance);
  }
  Trainer trainer(model.named_parameters(), cfg.train, loss);
  if (balance) trainer.add_hook(*balance);
  Rng rng(cfg.train.seed);   // the same draws for every method: scratch and logit_kd see the same examples
  Curves c;
  const int64_t evals = std::max<int64_t>(cfg.evals, 1), every = std::max<int64_t>((cfg.train.steps + evals - 1) / evals, 1);
  evaluate(c, model, teacher, data, cfg.max_new_tokens, 0, 0.0);
  Progress bar(cfg.train.steps, std::string(cfg.train.label), cfg.train.progress);
  for (int64_t s = 1; s <= cfg.train.steps; ++s) {
    Timer timer;
    std::vector<TaskExample> examples = draw(pool, cfg.train.batch_size, rng);
    // GKD's Algorithm 1: with probability lambda the batch's outputs are the student's own. Every
    // method draws the coin, so all of them see the same examples in the same order.
    const bool on_policy = rng.uniform() < cfg.gkd.lambda;
    if (m == Method::gkd && on_policy) {
      examples = student_samples(model, data.codec.tok, examples, cfg.gkd, cfg.train.seed * 1000003ULL + static_cast<uint64_t>(s));
      ++c.on_policy_batches;
      c.compute += kForwardCost * static_cast<double>(example_tokens(examples));
    }
    const Batch batch = example_batch(examples, pad);
    const StepStats st = trainer.train_step(batch);
    trainer.record(st);
    c.seconds += timer.seconds();
    c.tokens += batch.inputs.numel();
    c.compute += kTrainCost * static_cast<double>(example_tokens(examples));
    c.step.push_back(static_cast<double>(s));
    c.loss.push_back(st.loss);
    if (s % every == 0 || s == cfg.train.steps) evaluate(c, model, teacher, data, cfg.max_new_tokens, s, c.compute);
    bar.update(s, {{"loss", st.loss}, {"acc", c.accuracy.back()}}, batch.inputs.numel());
  }
  bar.finish();
  return c;
}

}  // namespace ds::ch08
