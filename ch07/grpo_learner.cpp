#include "ch07/grpo_learner.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "ch02/score.hpp"
#include "common/autograd.hpp"
#include "common/timer.hpp"

namespace ds::ch07 {

Batch row_batch(const std::vector<int64_t>& rows) {
  std::vector<int32_t> ids(rows.begin(), rows.end());
  const int64_t b = static_cast<int64_t>(rows.size());
  return {IntTensor(ids, {b, 1}), IntTensor(ids, {b, 1})};
}

Tensor take_rows(const Tensor& x, const std::vector<int64_t>& rows, int64_t n) {
  const int64_t l = x.size(1);
  Tensor out = Tensor::zeros({static_cast<int64_t>(rows.size()), n});
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t j = 0; j < std::min(n, l); ++j) out.data()[static_cast<int64_t>(i) * n + j] = x.data()[rows[i] * l + j];
  return out;
}

ch02::SamplingConfig rl_sampling(const TaskCodec& codec, const std::vector<Problem>& problems, float temperature, uint64_t seed) {
  ch02::SamplingConfig sc;
  sc.max_new_tokens = completion_budget(codec, problems);
  sc.temperature = temperature;
  sc.seed = seed;
  return sc;
}

namespace {
std::vector<int64_t> batch_rows(const Batch& b) { return std::vector<int64_t>(b.inputs.data.begin(), b.inputs.data.end()); }

template <class T>
std::vector<T> pick(const std::vector<T>& v, const std::vector<int64_t>& rows) {
  std::vector<T> out;
  for (int64_t r : rows) out.push_back(v[static_cast<size_t>(r)]);
  return out;
}
}  // namespace

RlStepReport sample_report(const Rollouts& r, const std::vector<float>& rewards) {
  RlStepReport rep;
  double n_right = 0, n_wrong = 0;
  for (int64_t i = 0; i < r.rows(); ++i) {
    const Reward& w = r.rewards[static_cast<size_t>(i)];
    rep.reward += rewards[static_cast<size_t>(i)];
    rep.accuracy += w.accuracy;
    rep.format += w.format;
    const double len = static_cast<double>(r.completions[static_cast<size_t>(i)].size());
    (r.correct(i) ? rep.length_correct : rep.length_wrong) += len;
    (r.correct(i) ? n_right : n_wrong) += 1;
  }
  const double rows_n = static_cast<double>(r.rows());
  rep.reward /= rows_n;
  rep.accuracy /= rows_n;
  rep.format /= rows_n;
  rep.length_correct = n_right > 0 ? rep.length_correct / n_right : 0;
  rep.length_wrong = n_wrong > 0 ? rep.length_wrong / n_wrong : 0;
  double logp_sum = 0, tokens = 0;
  for (int64_t i = 0; i < r.logprobs.numel(); ++i) {
    logp_sum += r.mask.data()[i] * r.sampling_logprobs.data()[i];
    tokens += r.mask.data()[i];
  }
  rep.entropy = tokens > 0 ? -logp_sum / tokens : 0;
  const int64_t groups = static_cast<int64_t>(r.problems.size());
  for (int64_t g = 0; g < groups; ++g) {
    const auto first = rewards.begin() + g * r.group;
    rep.mixed_groups += std::any_of(first, first + r.group, [&](float x) { return x != *first; });
  }
  rep.mixed_groups /= static_cast<double>(groups);
  return rep;
}

GrpoLearner::GrpoLearner(ch06::DeepSeekModel& policy, const TaskCodec& codec, const TrainerConfig& tc, const GrpoConfig& cfg)
    : trainer(policy, tc, [this](const Batch& b) { return loss(b); }, false), policy_(policy), codec_(codec), cfg_(cfg) {
  if (cfg.group < 2) throw std::invalid_argument("GRPO needs at least 2 completions per prompt (a group of 1 has no baseline)");
  if (cfg.mu < 1) throw std::invalid_argument("GRPO needs mu >= 1 optimizer steps per batch");
  if (cfg.loss.beta != 0.f) reference_ = ch06::frozen_copy(policy);
}

// The loss of the rows a batch names: their completions scored by the policy now, against
// log pi_old recorded at sampling and log pi_ref scored once per batch.
Loss GrpoLearner::loss(const Batch& b) {
  const std::vector<int64_t> rows = batch_rows(b);
  TemperedModel tempered(policy_, cfg_.temperature);
  const ch02::TokenScores s = ch02::score_completions(tempered, pick(rollouts_.prompts, rows), pick(rollouts_.completions, rows));
  const int64_t n = s.log_probs.size(1);
  GrpoOptions opt = cfg_.loss;
  opt.max_completion_length = rollouts_.logprobs.size(1);
  const Tensor old = take_rows(rollouts_.sampling_logprobs, rows, n);
  const Tensor ref = ref_logp_.defined() ? take_rows(ref_logp_, rows, n) : Tensor();
  const GrpoTerms t = grpo_loss(s.log_probs, old, ref, s.mask, pick(advantages_, rows), opt);
  Loss l{t.loss, {}};
  l.metrics.add("kl", t.kl);
  l.metrics.add("clip_low", t.clip_low);
  l.metrics.add("clip_high", t.clip_high);
  l.metrics.add("approx_kl", t.approx_kl);
  return l;
}

std::vector<float> row_rewards(const Rollouts& r, float format_weight) {
  std::vector<float> out;
  for (const Reward& w : r.rewards) out.push_back(w.accuracy + format_weight * w.format);
  return out;
}

std::vector<float> row_rewards(const Rollouts& r, const GrpoConfig& cfg) {
  std::vector<float> out = row_rewards(r, cfg.format_weight);
  if (cfg.extra_reward)
    for (int64_t i = 0; i < r.rows(); ++i) out[static_cast<size_t>(i)] += cfg.extra_reward(r.problem(i), r.texts[static_cast<size_t>(i)]);
  return out;
}

std::vector<std::pair<size_t, int64_t>> mixed_group_picks(const std::vector<std::vector<float>>& rewards_per_draw, int64_t group, int64_t want) {
  if (group < 1) throw std::invalid_argument("mixed_group_picks needs a group size of at least 1");
  std::vector<std::pair<size_t, int64_t>> picks;
  for (size_t d = 0; d < rewards_per_draw.size(); ++d) {
    const std::vector<float>& r = rewards_per_draw[d];
    if (static_cast<int64_t>(r.size()) % group != 0) throw std::invalid_argument("mixed_group_picks: a draw's rewards are not whole groups");
    for (int64_t g = 0; g * group < static_cast<int64_t>(r.size()); ++g) {
      if (static_cast<int64_t>(picks.size()) == want) return picks;
      const auto first = r.begin() + g * group;
      if (std::any_of(first, first + group, [&](float x) { return x != *first; })) picks.emplace_back(d, g);
    }
  }
  return picks;
}

GrpoLearner::Drawn GrpoLearner::draw(const std::vector<Problem>& problems, uint64_t seed) {
  // Draw 0 is the prompts given; with dynamic sampling, further draws until enough mixed groups.
  std::vector<Rollouts> draws;
  std::vector<std::vector<float>> draw_rewards;
  std::vector<std::pair<size_t, int64_t>> picks;
  Drawn out;
  std::vector<Problem> batch = problems;
  for (int64_t d = 0;; ++d) {
    const uint64_t draw_seed = seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(d));   // draw 0 samples with `seed` itself
    draws.push_back(sample_rollouts(policy_, codec_, batch, cfg_.group, rl_sampling(codec_, batch, cfg_.temperature, draw_seed)));
    draw_rewards.push_back(row_rewards(draws.back(), cfg_));
    out.samples += draws.back().rows();
    if (!cfg_.dynamic_sampling) break;
    picks = mixed_group_picks(draw_rewards, cfg_.group, cfg_.prompts);
    if (static_cast<int64_t>(picks.size()) >= cfg_.prompts || d + 1 >= cfg_.max_draws) break;
    if (!refill) throw std::logic_error("GRPO's dynamic sampling needs a prompt source (GrpoLearner::refill)");
    batch = refill(cfg_.prompts, draw_seed + 1);
    if (batch.empty()) break;   // the source has no more (a sampling budget is spent)
  }
  out.first = sample_report(draws.front(), draw_rewards.front());
  if (observe) observe(draws.front());
  out.groups = cfg_.dynamic_sampling ? gather_groups(draws, picks) : std::move(draws.front());
  return out;
}

RlStepReport GrpoLearner::step(const std::vector<Problem>& problems, uint64_t seed) {
  Timer timer;
  Drawn drawn = draw(problems, seed);
  RlStepReport rep = drawn.first;   // the policy as it sampled, before any filter
  rep.samples = drawn.samples;
  rollouts_ = std::move(drawn.groups);
  rep.groups_trained = static_cast<int64_t>(rollouts_.problems.size());
  if (rollouts_.rows() == 0) {   // no mixed group in max_draws batches: nothing to learn from
    rep.sample_seconds = timer.seconds();
    return rep;
  }
  advantages_ = group_advantages(row_rewards(rollouts_, cfg_), cfg_.group, cfg_.scale);
  std::vector<int64_t> rows(static_cast<size_t>(rollouts_.rows()));
  std::iota(rows.begin(), rows.end(), 0);
  if (reference_) {
    NoGradGuard ng;
    TemperedModel ref(*reference_, cfg_.temperature);
    ref_logp_ = ch02::score_completions(ref, rollouts_.prompts, rollouts_.completions).log_probs;
  }
  rep.sample_seconds = timer.seconds();

  // mu optimizer steps on the batch (DeepSeekMath Algorithm 1's inner loop).
  Timer train_timer;
  for (int64_t k = 0; k < cfg_.mu; ++k) {
    const StepStats s = trainer.step(row_batch(rows));
    rep.loss += s.loss / static_cast<double>(cfg_.mu);
    rep.kl += s.metrics.at("kl") / static_cast<double>(cfg_.mu);
    rep.clip_low += s.metrics.at("clip_low") / static_cast<double>(cfg_.mu);
    rep.clip_high += s.metrics.at("clip_high") / static_cast<double>(cfg_.mu);
    rep.approx_kl += s.metrics.at("approx_kl") / static_cast<double>(cfg_.mu);
  }
  rep.train_seconds = train_timer.seconds();
  return rep;
}

}  // namespace ds::ch07
