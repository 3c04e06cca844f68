#include "ch07/sft.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/progress.hpp"

namespace ds::ch07 {

Batch sft_batch(const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<int32_t>>& completions, int32_t pad) {
  if (prompts.size() != completions.size() || prompts.empty())
    throw std::invalid_argument("sft_batch needs as many completions as prompts, and at least one");
  const int64_t b = static_cast<int64_t>(prompts.size());
  int64_t t = 0;
  for (int64_t i = 0; i < b; ++i) {
    if (prompts[i].empty() || completions[i].empty()) throw std::invalid_argument("sft_batch: a prompt or a completion is empty");
    t = std::max<int64_t>(t, static_cast<int64_t>(prompts[i].size() + completions[i].size()) - 1);
  }
  Batch out{IntTensor(std::vector<int32_t>(b * t, pad), {b, t}), IntTensor(std::vector<int32_t>(b * t, -100), {b, t})};
  for (int64_t i = 0; i < b; ++i) {
    std::vector<int32_t> seq = prompts[i];
    seq.insert(seq.end(), completions[i].begin(), completions[i].end());
    const int64_t p = static_cast<int64_t>(prompts[i].size());
    for (int64_t j = 0; j + 1 < static_cast<int64_t>(seq.size()); ++j) {
      out.inputs.data[i * t + j] = seq[j];
      if (j + 1 >= p) out.targets.data[i * t + j] = seq[j + 1];   // position j predicts token j+1: a completion token
    }
  }
  return out;
}

Batch sft_batch(const TaskCodec& codec, const std::vector<Problem>& problems) {
  std::vector<std::vector<int32_t>> prompts, completions;
  for (const Problem& p : problems) {
    prompts.push_back(codec.prompt(p));
    completions.push_back(codec.completion(p));
  }
  return sft_batch(prompts, completions, codec.eot());
}

LossFn sft_loss(ch02::LanguageModel& model) {
  return [&model](const Batch& batch) {
    const Tensor logits = model.forward(batch.inputs);   // [B, T, V]
    Loss l{cross_entropy(logits, batch.targets), {}};    // mean over targets != -100: the completion tokens
    const int64_t v = logits.size(-1);
    int64_t right = 0, counted = 0;
    for (size_t i = 0; i < batch.targets.data.size(); ++i) {
      if (batch.targets.data[i] < 0) continue;
      const float* row = logits.data() + static_cast<int64_t>(i) * v;
      right += std::max_element(row, row + v) - row == batch.targets.data[i];
      ++counted;
    }
    l.metrics.add("token_acc", counted ? static_cast<double>(right) / static_cast<double>(counted) : 0.0);
    return l;
  };
}

TrainerConfig post_training_config(int64_t steps, int64_t batch, float lr, float min_lr) {
  TrainerConfig tc;
  tc.steps = steps;
  tc.batch_size = batch;
  tc.lr = lr;
  tc.min_lr = min_lr;
  tc.warmup = std::min<int64_t>(5, steps);
  tc.weight_decay = 0.f;
  tc.progress = false;
  return tc;
}

std::vector<Problem> sample_train_problems(Task task, const std::vector<int>& lengths, int n, Rng& rng) {
  if (lengths.empty()) throw std::invalid_argument("sample_train_problems needs at least one length");
  std::vector<Problem> out;
  for (int i = 0; i < n; ++i) out.push_back(sample_problem(task, lengths[rng.randint(static_cast<int64_t>(lengths.size()))], Split::train, rng));
  return out;
}

PolicyTrainer::PolicyTrainer(ch06::DeepSeekModel& model, const TrainerConfig& cfg, LossFn loss, bool balance_bias) {
  trainer = std::make_unique<Trainer>(model.named_parameters(), cfg, std::move(loss));
  if (!balance_bias) return;
  ch04::BalanceConfig bc;
  bc.strategy = ch04::Balancing::AuxFree;
  balance = std::make_unique<ch04::BalanceHook>(model.moe_layers(), bc);
  trainer->add_hook(*balance);
}

StepStats PolicyTrainer::step(const Batch& batch) {
  const StepStats s = trainer->train_step(batch);
  trainer->record(s);
  return s;
}

SftTrainer::SftTrainer(ch06::DeepSeekModel& model, const TrainerConfig& cfg) : PolicyTrainer(model, cfg, sft_loss(model)) {}

int64_t sft_steps(SftTrainer& sft, const TaskCodec& codec, Task task, const std::vector<int>& lengths, int64_t steps, Rng& rng,
                  const std::function<bool(const StepStats&)>& on_step, const std::string& label) {
  return sft_steps(sft, codec, [&](int n, Rng& r) { return sample_train_problems(task, lengths, n, r); }, steps, rng, on_step, label);
}

int64_t sft_steps(SftTrainer& sft, const TaskCodec& codec, const ProblemSource& draw, int64_t steps, Rng& rng,
                  const std::function<bool(const StepStats&)>& on_step, const std::string& label) {
  const TrainerConfig& cfg = sft.trainer->config();
  Progress bar(steps, label, cfg.progress);
  int64_t done = 0;
  while (done < steps) {
    const Batch batch = sft_batch(codec, draw(static_cast<int>(cfg.batch_size), rng));
    const StepStats s = sft.step(batch);
    ++done;
    int64_t tokens = 0;
    for (int32_t t : batch.targets.data) tokens += t >= 0;
    bar.update(done, {{"loss", s.loss}, {"token_acc", s.metrics.at("token_acc")}}, tokens);
    if (on_step && !on_step(s)) break;
  }
  bar.finish();
  return done;
}

int64_t sft_on_examples(SftTrainer& sft, const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<int32_t>>& completions,
                        int32_t pad, int64_t steps, Rng& rng, const std::function<bool()>& stop) {
  if (prompts.empty() || prompts.size() != completions.size()) throw std::invalid_argument("sft_on_examples needs examples, as many prompts as completions");
  int64_t done = 0;
  for (; done < steps && !(stop && stop()); ++done) {
    std::vector<std::vector<int32_t>> bp, bc;
    for (int64_t i = 0; i < sft.trainer->config().batch_size; ++i) {
      const size_t j = static_cast<size_t>(rng.randint(static_cast<int64_t>(prompts.size())));
      bp.push_back(prompts[j]);
      bc.push_back(completions[j]);
    }
    sft.step(sft_batch(bp, bc, pad));
  }
  return done;
}

}  // namespace ds::ch07
