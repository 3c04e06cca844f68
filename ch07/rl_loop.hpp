// The outer loop every RL program shares (GRPO, PPO, the R1 recipe, the comparison): draw
// training prompts, let a learner take one step on them (sample, score, update), record what the
// step reports, probe greedy exact match on held-out problems every few steps, show a progress
// bar, stop cleanly when asked (Ctrl-C) or when a time budget is spent. The optimizer steps
// themselves are the trainer's (common/trainer.hpp), inside the learner.
#pragma once

#include <functional>
#include <set>
#include <string>

#include "ch07/grpo_learner.hpp"
#include "ch07/labelled_set.hpp"
#include "common/run_report.hpp"

namespace ds::ch07 {

using RlStepFn = std::function<RlStepReport(const std::vector<Problem>& problems, uint64_t seed)>;

struct RlRunConfig {
  Task task = Task::addition;
  std::vector<int> lengths;     // operand lengths of the training prompts
  int64_t steps = 10;
  int64_t prompts = 16;         // prompts per step
  int64_t eval_every = 5;       // probe every this many steps (and after the last)
  double max_seconds = 0;       // > 0: also stop once this much wall time is spent
  int64_t max_samples = 0;      // > 0: also stop once this many completions are drawn (a sampling budget)
  std::set<std::string> exclude;   // problem_key()s the training prompts never take: a validation set kept apart
  uint64_t seed = 1234;
  std::string label = "rl";
};

// Per step (and per probe) what an RL run did; the plots read it.
struct RlTrace {
  std::vector<double> step, reward, accuracy, format, kl, entropy, len_right, len_wrong, mixed, clip, approx_kl, samples;
  std::vector<double> eval_step, eval_em, eval_samples;   // probe: greedy exact match (%) after `step` steps / samples drawn
  double seconds = 0, sample_seconds = 0, train_seconds = 0;
  double cpu_seconds = 0;   // the process's CPU time inside the learner's steps (probes not counted): compute, whatever the machine's load
  int64_t steps = 0;
  int64_t drawn = 0;        // completions sampled over all steps
};

// CPU time of this process so far, every thread counted (CLOCK_PROCESS_CPUTIME_ID). On a shared
// machine wall time measures the other users as much as the work; the equal-compute controls
// compare CPU time.
double process_cpu_seconds();

// n training prompts of cfg's task and lengths, none of them in cfg.exclude.
std::vector<Problem> draw_rl_prompts(const RlRunConfig& cfg, int n, Rng& rng);

// The RL validation problems of cfg's task and lengths (kRlValidationProblems per length from the
// training split minus the labelled set, labelled_set.hpp), added to cfg.exclude so that RL
// prompts never include them: settings chosen on them are chosen on problems no run trained on.
std::vector<Problem> keep_validation_apart(RlRunConfig& cfg, const LabelledSet& labelled);

// Runs the learner (samples_per_step: completions a step draws when its report does not say); stop() is polled after every step (e.g. a Ctrl-C flag).
RlTrace run_rl(const RlStepFn& learner, ch06::DeepSeekModel& policy, const TaskCodec& codec, const std::vector<Problem>& probe,
               const RlRunConfig& cfg, int64_t samples_per_step, const std::function<bool()>& stop = {});

// accuracy.svg, kl.svg, clip.svg, entropy.svg, length.svg in dir, with `method` in the titles.
void write_rl_plots(RunReport& report, const std::string& method, const RlTrace& t);

}  // namespace ds::ch07
