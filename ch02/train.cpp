#include "ch02/train.hpp"

#include <algorithm>

#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/optim.hpp"
#include "common/progress.hpp"
#include "common/timer.hpp"

namespace ds::ch02 {

Tensor next_token_loss(LanguageModel& model, const Batch& batch) {
  return cross_entropy(model.forward(batch.inputs), batch.targets);
}

double evaluate(LanguageModel& model, const TokenDataset& data, int64_t batch_size, int64_t seq_len, int64_t max_batches,
                const LossFn& loss) {
  NoGradGuard ng;
  double sum = 0, tokens = 0;
  for (const Batch& b : data.eval_batches(Split::Val, batch_size, seq_len, max_batches)) {
    const double n = static_cast<double>(b.targets.numel());
    sum += loss(model, b).item() * n;
    tokens += n;
  }
  return sum / tokens;
}

TrainHistory train(LanguageModel& model, const TokenDataset& data, const TrainConfig& cfg, const LossFn& loss,
                   const StepHook& after_step) {
  AdamWConfig ac;
  ac.lr = cfg.lr;
  ac.weight_decay = cfg.weight_decay;
  AdamW opt(model.named_parameters(), ac);
  Rng rng(cfg.seed);
  TrainHistory h;
  auto eval = [&](int64_t step) {
    const double v = evaluate(model, data, cfg.batch_size, cfg.seq_len, cfg.eval_batches, loss);
    h.eval_step.push_back(static_cast<double>(step));
    h.val_loss.push_back(v);
    return v;
  };
  eval(0);
  Progress bar(cfg.steps, cfg.label, cfg.progress);
  Timer timer;
  const int64_t tokens_per_step = cfg.batch_size * cfg.seq_len;
  for (int64_t step = 0; step < cfg.steps; ++step) {
    const float lr = lr_warmup_cosine(step, cfg.warmup, cfg.steps, cfg.lr, cfg.min_lr);
    opt.set_lr(lr);
    const Tensor l = loss(model, data.sample_batch(Split::Train, cfg.batch_size, cfg.seq_len, rng));
    l.backward();
    clip_grad_norm(model.parameters(), cfg.grad_clip);
    opt.step();
    opt.zero_grad();
    if (after_step) after_step(step);
    h.step.push_back(static_cast<double>(step + 1));
    h.train_loss.push_back(l.item());
    h.lr.push_back(lr);
    if ((step + 1) % cfg.eval_every == 0 && step + 1 < cfg.steps) eval(step + 1);
    if (h.val_loss.size() > 1) {   // the step-0 loss of an untrained model would only mislead
      bar.update(step + 1, {{"loss", l.item()}, {"val", h.val_loss.back()}}, tokens_per_step);
    } else {
      bar.update(step + 1, {{"loss", l.item()}}, tokens_per_step);
    }
  }
  h.seconds = timer.seconds();
  h.final_val_loss = eval(cfg.steps);
  bar.finish();
  h.best_val_loss = *std::min_element(h.val_loss.begin(), h.val_loss.end());
  h.tokens_per_second = static_cast<double>(cfg.steps * tokens_per_step) / std::max(h.seconds, 1e-9);
  return h;
}

}  // namespace ds::ch02
