#include "ch07/dpo_learner.hpp"

#include "ch02/score.hpp"
#include "ch07/grpo_learner.hpp"
#include "common/autograd.hpp"

namespace ds::ch07 {

std::vector<PreferencePair> preference_pairs(const Rollouts& r) {
  std::vector<PreferencePair> out;
  for (size_t p = 0; p < r.problems.size(); ++p) {
    int64_t right = -1, wrong = -1;
    for (int64_t g = 0; g < r.group; ++g) {
      const int64_t row = static_cast<int64_t>(p) * r.group + g;
      if (r.correct(row) && right < 0) right = row;
      if (!r.correct(row) && wrong < 0) wrong = row;
    }
    if (right >= 0 && wrong >= 0)
      out.push_back({r.prompts[static_cast<size_t>(right)], r.completions[static_cast<size_t>(right)], r.completions[static_cast<size_t>(wrong)]});
  }
  return out;
}

DpoLearner::DpoLearner(ch06::DeepSeekModel& policy, const TrainerConfig& tc, const DpoOptions& opt)
    : trainer(policy, tc, [this](const Batch& b) { return loss(b); }, false), policy_(policy), reference_(ch06::frozen_copy(policy)), opt_(opt) {}

namespace {
struct Sides {
  std::vector<std::vector<int32_t>> prompts, chosen, rejected;
};
Sides sides(const std::vector<PreferencePair>& pairs, const std::vector<int64_t>& rows) {
  Sides s;
  for (int64_t r : rows) {
    const PreferencePair& p = pairs[static_cast<size_t>(r)];
    s.prompts.push_back(p.prompt);
    s.chosen.push_back(p.chosen);
    s.rejected.push_back(p.rejected);
  }
  return s;
}
}  // namespace

void DpoLearner::set_pairs(std::vector<PreferencePair> pairs) {
  if (pairs.empty()) throw std::invalid_argument("DPO has no preference pairs: no prompt had both a correct and a wrong sample");
  pairs_ = std::move(pairs);
  std::vector<int64_t> all(pairs_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  const Sides s = sides(pairs_, all);
  NoGradGuard ng;
  ref_chosen_ = ch02::score_completions(*reference_, s.prompts, s.chosen).log_probs;
  ref_rejected_ = ch02::score_completions(*reference_, s.prompts, s.rejected).log_probs;
}

Loss DpoLearner::loss(const Batch& b) {
  const std::vector<int64_t> rows(b.inputs.data.begin(), b.inputs.data.end());
  const Sides s = sides(pairs_, rows);
  const ch02::TokenScores c = ch02::score_completions(policy_, s.prompts, s.chosen);
  const ch02::TokenScores r = ch02::score_completions(policy_, s.prompts, s.rejected);
  const DpoTerms t = dpo_loss(c.log_probs, c.mask, r.log_probs, r.mask, take_rows(ref_chosen_, rows, c.log_probs.size(1)),
                              take_rows(ref_rejected_, rows, r.log_probs.size(1)), opt_);
  Loss l{t.loss, {}};
  double cw = 0, rw = 0;
  for (size_t i = 0; i < t.chosen_rewards.size(); ++i) {
    cw += t.chosen_rewards[i] / static_cast<double>(t.chosen_rewards.size());
    rw += t.rejected_rewards[i] / static_cast<double>(t.rejected_rewards.size());
  }
  l.metrics.add("margin", t.margin);
  l.metrics.add("pair_acc", t.accuracy);
  l.metrics.add("chosen_reward", cw);
  l.metrics.add("rejected_reward", rw);
  l.metrics.add("nll", t.nll);
  return l;
}

StepStats DpoLearner::step(const std::vector<int64_t>& rows) { return trainer.step(row_batch(rows)); }

}  // namespace ds::ch07
