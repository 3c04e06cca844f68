#include "ch07/ppo_learner.hpp"

#include <numeric>

#include "ch02/score.hpp"
#include "ch07/masked.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/timer.hpp"

namespace ds::ch07 {

ch02::TokenScores critic_values(Critic& critic, const std::vector<std::vector<int32_t>>& prompts,
                                const std::vector<std::vector<int32_t>>& completions) {
  const ch02::SequenceBatch batch = ch02::pack_sequences(prompts, completions);
  const int64_t b = batch.ids.size(0), p = batch.prompt_len, n = batch.targets.size(1);
  ch02::ForwardOptions opt;
  opt.attention_mask = &batch.attention_mask;
  const Tensor values = critic.values(batch.ids, opt);   // [B, P + N]
  ch02::TokenScores s;
  s.log_probs = slice(values, 1, p - 1, p - 1 + n);   // V(s_t) of the state before completion token t
  s.mask = Tensor::zeros({b, n});
  for (int64_t i = 0; i < b * n; ++i) s.mask.data()[i] = batch.targets[i] == -100 ? 0.f : 1.f;
  return s;
}

namespace {
NamedTensors without_lm_head(const NamedTensors& all) {
  NamedTensors out;
  for (const auto& [name, t] : all)
    if (name != "lm_head.weight") out.push_back({name, t});   // the critic reads hidden states, not logits
  return out;
}

template <class T>
std::vector<T> pick(const std::vector<T>& v, const std::vector<int64_t>& rows) {
  std::vector<T> out;
  for (int64_t r : rows) out.push_back(v[static_cast<size_t>(r)]);
  return out;
}
}  // namespace

PpoLearner::PpoLearner(ch06::DeepSeekModel& policy, const TaskCodec& codec, const TrainerConfig& policy_tc, const TrainerConfig& critic_tc,
                       const PpoConfig& cfg, Rng& rng)
    : policy_trainer(policy, policy_tc, [this](const Batch& b) { return policy_loss(b); }, false),
      critic_(std::make_unique<Critic>(policy, rng)),
      critic_trainer(std::make_unique<Trainer>(without_lm_head(critic_->named_parameters()), critic_tc, [this](const Batch& b) { return value_loss(b); })),
      policy_(policy),
      codec_(codec),
      cfg_(cfg),
      reference_(ch06::frozen_copy(policy)) {}

Loss PpoLearner::policy_loss(const Batch& b) {
  const std::vector<int64_t> rows(b.inputs.data.begin(), b.inputs.data.end());
  TemperedModel tempered(policy_, cfg_.temperature);   // the policy sampled from (grpo_learner.hpp)
  const ch02::TokenScores s = ch02::score_completions(tempered, pick(rollouts_.prompts, rows), pick(rollouts_.completions, rows));
  const int64_t n = s.log_probs.size(1);
  const PpoPolicyTerms t = ppo_policy_loss(s.log_probs, take_rows(rollouts_.sampling_logprobs, rows, n), take_rows(advantages_, rows, n), s.mask, cfg_.clip);
  Loss l{t.loss, {}};
  l.metrics.add("clip_fraction", t.clip_fraction);
  l.metrics.add("approx_kl", t.approx_kl);
  l.metrics.add("approx_kl", t.approx_kl);
  return l;
}

Loss PpoLearner::value_loss(const Batch& b) {
  const std::vector<int64_t> rows(b.inputs.data.begin(), b.inputs.data.end());
  const ch02::TokenScores v = critic_values(*critic_, pick(rollouts_.prompts, rows), pick(rollouts_.completions, rows));
  const int64_t n = v.log_probs.size(1);
  const PpoValueTerms t = ppo_value_loss(v.log_probs, take_rows(old_values_, rows, n), take_rows(returns_, rows, n), v.mask, cfg_.value_clip);
  Loss l{t.loss, {}};
  l.metrics.add("value_clip_fraction", t.clip_fraction);
  return l;
}

RlStepReport PpoLearner::step(const std::vector<Problem>& problems, uint64_t seed) {
  RlStepReport rep;
  Timer timer;
  rollouts_ = sample_rollouts(policy_, codec_, problems, cfg_.samples, rl_sampling(codec_, problems, cfg_.temperature, seed));
  const int64_t rows_n = rollouts_.rows(), l = rollouts_.logprobs.size(1);
  {
    NoGradGuard ng;
    TemperedModel tempered_ref(*reference_, cfg_.temperature);
    const Tensor ref = take_rows(ch02::score_completions(tempered_ref, rollouts_.prompts, rollouts_.completions).log_probs,
                                 [&] { std::vector<int64_t> r(static_cast<size_t>(rows_n)); std::iota(r.begin(), r.end(), 0); return r; }(), l);
    const ch02::TokenScores v = critic_values(*critic_, rollouts_.prompts, rollouts_.completions);
    std::vector<int64_t> all(static_cast<size_t>(rows_n));
    std::iota(all.begin(), all.end(), 0);
    old_values_ = take_rows(v.log_probs, all, l);
    const Tensor rewards = kl_penalized_rewards(rollouts_.accuracy_rewards(), rollouts_.sampling_logprobs, ref, rollouts_.mask, cfg_.kl_coef);
    const Gae g = gae(rewards, old_values_, rollouts_.mask, cfg_.gamma, cfg_.lambda);
    advantages_ = cfg_.whiten_advantages ? whiten(g.advantages, rollouts_.mask) : g.advantages;
    returns_ = g.returns;
    rep.kl = masked_average(sub(rollouts_.sampling_logprobs, ref), rollouts_.mask);   // k1 estimate of KL(pi_old || pi_ref)
  }
  rep.sample_seconds = timer.seconds();
  double n_right = 0, n_wrong = 0, logp_sum = 0, tokens = 0;
  for (int64_t i = 0; i < rows_n; ++i) {
    rep.accuracy += rollouts_.rewards[static_cast<size_t>(i)].accuracy / static_cast<double>(rows_n);
    rep.format += rollouts_.rewards[static_cast<size_t>(i)].format / static_cast<double>(rows_n);
    const double len = static_cast<double>(rollouts_.completions[static_cast<size_t>(i)].size());
    (rollouts_.correct(i) ? rep.length_correct : rep.length_wrong) += len;
    (rollouts_.correct(i) ? n_right : n_wrong) += 1;
  }
  rep.reward = rep.accuracy;
  rep.length_correct = n_right > 0 ? rep.length_correct / n_right : 0;
  rep.length_wrong = n_wrong > 0 ? rep.length_wrong / n_wrong : 0;
  for (int64_t i = 0; i < rollouts_.logprobs.numel(); ++i) {
    logp_sum += rollouts_.mask.data()[i] * rollouts_.sampling_logprobs.data()[i];
    tokens += rollouts_.mask.data()[i];
  }
  rep.entropy = tokens > 0 ? -logp_sum / tokens : 0;

  Timer train_timer;
  std::vector<int64_t> rows(static_cast<size_t>(rows_n));
  std::iota(rows.begin(), rows.end(), 0);
  for (int64_t k = 0; k < cfg_.ppo_epochs; ++k) {
    const StepStats s = policy_trainer.step(row_batch(rows));
    const StepStats v = critic_trainer->train_step(row_batch(rows));
    critic_trainer->record(v);
    rep.loss += (s.loss + v.loss) / static_cast<double>(cfg_.ppo_epochs);
    rep.clip_high += s.metrics.at("clip_fraction") / static_cast<double>(cfg_.ppo_epochs);
    rep.approx_kl += s.metrics.at("approx_kl") / static_cast<double>(cfg_.ppo_epochs);
  }
  rep.train_seconds = train_timer.seconds();
  return rep;
}

}  // namespace ds::ch07
