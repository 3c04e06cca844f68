// GRPO training as DeepSeekMath (sec. 4.1.2, 4.2) and DeepSeek-R1 (sec. 2.2) run it: for each
// prompt sample G completions from the current policy (pi_old), score them with the rule-based
// reward, turn the rewards into group-relative advantages, and take mu optimizer steps on the
// GRPO loss (grpo.hpp) with the k3 KL to a frozen reference. No value model, no reward model.
//
// Each optimizer step is the repository's trainer (common/trainer.hpp) on a "batch" whose rows
// name rollouts: the loss function scores those rows' completions with the policy
// (ch02/score.hpp) and compares them with what was recorded at sampling time.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include "ch07/grpo.hpp"
#include "ch07/rollout.hpp"
#include "ch07/sft.hpp"

namespace ds::ch07 {

struct GrpoConfig {
  int64_t prompts = 16;        // prompts per step
  int64_t group = 8;           // G: completions per prompt
  int64_t mu = 1;              // optimizer steps on each sampled batch (DeepSeekMath's mu; 1 = on-policy)
  float temperature = 1.f;     // sampling temperature; the policy trained is the tempered one, logits / T (TRL's choice)
  float format_weight = 0.f;   // reward = accuracy + format_weight * format (R1-Zero uses both rules)
  // DAPO's dynamic sampling (Yu et al. 2025, sec. 3.2, eq. 11's 0 < |correct| < G): keep only
  // groups whose rewards differ, drawing further batches of `prompts` fresh prompts (at most
  // max_draws batches per step) until `prompts` such groups fill the batch. Every draw's samples count.
  bool dynamic_sampling = false;
  int64_t max_draws = 4;
  // When set, added to each row's reward (e.g. R1's language-consistency reward, sec. 2.3.2).
  std::function<float(const Problem& p, std::string_view completion)> extra_reward;
  ScaleRewards scale = ScaleRewards::group;
  GrpoOptions loss;            // eps, eps_high, beta, loss_type
};

// What one GRPO step saw and did.
struct RlStepReport {
  double reward = 0, accuracy = 0, format = 0;   // means over the sampled completions
  double entropy = 0;             // mean -log pi_old of the sampled tokens: a Monte Carlo estimate of the sampled (tempered) policy's entropy
  double kl = 0, clip_low = 0, clip_high = 0, loss = 0;   // the loss function's, mean over the mu steps
  double approx_kl = 0;           // 0.5 (log pi_theta - log pi_old)^2 per token, mean over the mu steps (0 when mu = 1)
  double length_correct = 0, length_wrong = 0;            // mean completion tokens of right and of wrong answers (0 if none)
  double mixed_groups = 0;        // fraction of groups whose rewards differ (the only ones with a gradient), in the step's first draw
  int64_t samples = 0;            // completions drawn in the step (more than prompts x G with dynamic sampling)
  int64_t groups_trained = 0;     // groups in the batch the optimizer saw
  double sample_seconds = 0, train_seconds = 0;
};

// What a step saw in its samples: mean reward (`rewards`, one per row), accuracy, format,
// entropy, the lengths of right and wrong answers and the share of mixed groups. Times are 0.
RlStepReport sample_report(const Rollouts& r, const std::vector<float>& rewards);

// The reward of each row: accuracy + format_weight x format.
std::vector<float> row_rewards(const Rollouts& r, float format_weight);
// The same plus cfg.extra_reward when set.
std::vector<float> row_rewards(const Rollouts& r, const GrpoConfig& cfg);

// DAPO's dynamic-sampling filter (Yu et al. 2025, sec. 3.2): the groups of G consecutive rewards
// that are not all equal, as (draw, group) pairs in draw order, at most `want` of them. A group
// whose rewards are all equal has advantage 0 and adds no gradient.
std::vector<std::pair<size_t, int64_t>> mixed_group_picks(const std::vector<std::vector<float>>& rewards_per_draw, int64_t group, int64_t want);

// Batch rows [r0, r1, ...] of rollouts as the trainer's Batch ([B, 1] of row indices).
Batch row_batch(const std::vector<int64_t>& rows);
// x [R, L] -> rows `rows`, columns 0..n-1: [rows.size(), n].
Tensor take_rows(const Tensor& x, const std::vector<int64_t>& rows, int64_t n);

class GrpoLearner {
 public:
  // The reference is a frozen copy of the policy as it is now (R1: the model RL starts from);
  // none when beta is 0 (DAPO, Dr. GRPO drop the KL term).
  GrpoLearner(ch06::DeepSeekModel& policy, const TaskCodec& codec, const TrainerConfig& tc, const GrpoConfig& cfg);
  // One step on these prompts; seed makes the sampling reproducible. With dynamic sampling, the
  // further prompts come from `refill` (n prompts for a seed), which must then be set; an empty
  // refill ends the step's drawing.
  RlStepReport step(const std::vector<Problem>& problems, uint64_t seed);
  std::function<std::vector<Problem>(int64_t n, uint64_t seed)> refill;
  // When set, sees each step's first draw (every completion sampled for the given prompts) before
  // training: measurements of the samples beyond the step report (e.g. R1-Zero's worked solutions).
  std::function<void(const Rollouts& first_draw)> observe;
  const GrpoConfig& config() const { return cfg_; }
  PolicyTrainer trainer;

 private:
  // What a step drew: the groups to train on, how many completions were sampled in all, and the
  // report of the first draw (the policy as it samples, before any filter).
  struct Drawn {
    Rollouts groups;
    int64_t samples = 0;
    RlStepReport first;
  };
  // Samples G completions per prompt; with dynamic sampling (DAPO sec. 3.2) draws further batches
  // from `refill` until cfg_.prompts groups with differing rewards are found or max_draws is hit.
  Drawn draw(const std::vector<Problem>& problems, uint64_t seed);
  Loss loss(const Batch& b);
  ch06::DeepSeekModel& policy_;
  const TaskCodec& codec_;
  GrpoConfig cfg_;
  std::unique_ptr<ch06::DeepSeekModel> reference_;
  // The batch the loss function reads during a step.
  Rollouts rollouts_;
  std::vector<float> advantages_;
  Tensor ref_logp_;   // [rows, L] under the reference (undefined without one)
};

// The sampling budget of a set of problems (completion_budget) as GRPO's max_new_tokens.
ch02::SamplingConfig rl_sampling(const TaskCodec& codec, const std::vector<Problem>& problems, float temperature, uint64_t seed);

}  // namespace ds::ch07
