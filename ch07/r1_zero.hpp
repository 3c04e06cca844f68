// DeepSeek-R1-Zero in miniature (R1 paper sec. 2.2): a base pretrained on a corpus that never
// shows R1's template (base_corpus.hpp), then GRPO with R1-Zero's two rule-based rewards only
// (sec. 2.2.2: accuracy, format) on R1-Zero's template (Table 1, compact). What it measures is
// R1's Figure 2 and 3 in small: held-out accuracy, and the completion length and the share of
// completions that work the sum out inside <think>, step by step.
#pragma once

#include <functional>
#include <set>

#include "ch07/base_corpus.hpp"
#include "ch07/plain_pretrain.hpp"
#include "ch07/rl_loop.hpp"

namespace ds::ch07 {

struct R1ZeroConfig {
  // The base.
  std::string model_size = "small";
  int vocab = 384;
  std::vector<int> pretrain_lengths = {1, 2, 3};
  int64_t pretrain_steps = 1500, pretrain_batch = 32;
  float pretrain_lr = 3e-3f;
  CorpusMix mix;
  // R1-Zero's RL: GRPO on prompts of `lengths`, reward = accuracy + format_weight x format.
  std::vector<int> lengths = {2, 3};
  int64_t rl_steps = 40, prompts = 16, group = 8, eval_every = 10;
  float lr = 1e-4f, temperature = 1.f, beta = 0.001f, format_weight = 1.f;
  // Measurements.
  int eval_n = 100;          // held-out problems per length
  int probe_n = 32;          // validation problems per length probed during RL
  int pass_problems = 16;    // per length, for pass@k at the start
  int64_t pass_n = 16;       // samples per problem for pass@k
};

// The flags of R1-Zero's GRPO: --prompts, --group, --lr, --temperature, --beta, --format-weight.
void add_grpo_flags(Flags& flags, R1ZeroConfig& cfg);
// --quick: a tiny base, a few pretraining and RL steps on 2 x 2 samples, a few problems.
void quick_settings(R1ZeroConfig& cfg);

// The base: a fresh model with the corpus tokenizer and R1-Zero's template, pretrained on
// cfg.pretrain_steps batches of corpus documents (never a problem in `exclude`). Progress bar on.
Policy pretrain_r1_zero_base(const R1ZeroConfig& cfg, const std::set<std::string>& exclude, uint64_t seed, const std::function<bool()>& stop = {});

// What the base can do before RL, on held-out sums.
struct BaseSkills {
  double direct = 0;     // plain "a+b=" -> the sum (direct_sum_exact_match)
  double textbook = 0;   // the textbook's worked form (textbook_exact_match)
  GreedyReport templ;    // greedy in R1-Zero's template, judged by the verifier
  std::vector<double> pass_at_k;   // pass@1..pass@pass_n in the template at cfg.temperature
  double worked_share = 0;         // share of those samples that write a worked solution in <think>
  double format_share = 0;         // share of those samples that are well formed
  std::vector<std::string> examples;   // the first samples of the first problem, as written
};
BaseSkills measure_base(ch06::DeepSeekModel& model, const TaskCodec& codec, const std::vector<Problem>& held_out,
                        const std::vector<Problem>& pass_set, const R1ZeroConfig& cfg, uint64_t seed);

// The RL run's trace plus, per step, what the samples looked like (R1 Figure 3's axes).
struct ZeroTrace {
  RlTrace rl;
  std::vector<double> mean_length;    // completion tokens, mean over every sample of the step
  std::vector<double> worked_share;   // % of the step's samples that write a worked solution in <think>
};

// GRPO from `policy` with R1-Zero's two rules (plus extra_reward when given: the recipe's consistency); probe = validation problems (greedy exact match
// every cfg.eval_every steps), `exclude` kept out of the prompts.
ZeroTrace run_r1_zero(ch06::DeepSeekModel& policy, const TaskCodec& codec, const std::vector<Problem>& probe, const std::set<std::string>& exclude,
                      const R1ZeroConfig& cfg, uint64_t seed, const std::string& label, const std::function<bool()>& stop = {},
                      const std::function<float(const Problem&, std::string_view)>& extra_reward = {});

// The problems of `lengths` with the textbook reasoning (so the sampling budget fits a worked
// solution): n test problems per length (seed 7), or validation problems of the training split.
std::vector<Problem> r1_zero_problems(const std::vector<int>& lengths, int n, Split split, uint64_t seed);

// Mean and sample standard deviation (0 for one value).
struct MeanSd {
  double mean = 0, sd = 0;
};
MeanSd mean_sd(const std::vector<double>& v);

}  // namespace ds::ch07
