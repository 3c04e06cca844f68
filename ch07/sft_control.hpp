// The SFT-only control of the RL programs: the same checkpoint, given the same extra compute,
// spent on more supervised epochs over the SFT stage's finite labelled set (labelled_set.hpp)
// instead of on sampling and verifying. If RL beats it, RL bought something labels could not:
// it learned from fresh prompts graded only by the verifier.
#pragma once

#include <functional>
#include <vector>

#include "ch07/labelled_set.hpp"
#include "ch07/rl_loop.hpp"
#include "ch07/sft.hpp"

namespace ds::ch07 {

struct ControlConfig {
  double seconds = 60;        // the compute to match: CPU seconds of the training steps (process_cpu_seconds; probes not counted)
  int64_t max_steps = 0;      // > 0: also stop after this many steps (tests)
  int64_t batch = 32;
  float lr = 3e-4f;           // constant after a 5-step warmup, as the RL programs' policies
  double probe_every = 0;     // > 0: greedy exact match on the probe every this many CPU seconds of training
  uint64_t seed = 17;
};

struct ControlTrace {
  int64_t steps = 0;
  double seconds = 0;                                 // CPU seconds of training spent
  std::vector<double> probe_seconds, probe_em;        // training seconds at each probe, exact match (%) there (first: the start)
};

// Trains `model` with SFT on batches from `draw` until cfg.seconds of step CPU time (or
// cfg.max_steps, or stop()); MoE bias balancing stays on, as in ch07_sft.
ControlTrace sft_control(ch06::DeepSeekModel& model, const TaskCodec& codec, const ProblemSource& draw, const std::vector<Problem>& probe,
                         const ControlConfig& cfg, const std::function<bool()>& stop = {});
// The SFT-only control: batches of the SFT stage's labelled set (labelled.draw), worked solutions included.
ControlTrace sft_control(ch06::DeepSeekModel& model, const TaskCodec& codec, const LabelledSet& labelled, const std::vector<Problem>& probe,
                         const ControlConfig& cfg, const std::function<bool()>& stop = {});

// The control with what RL knows: RL's own training prompts (draw_rl_prompts, the validation set
// kept apart) with their answers and no worked solution: the completion is "<think> </think>
// <answer> A </answer>", since a verifier knows the answer, never the reasoning.
ProblemSource answers_only_source(const RlRunConfig& rl);

}  // namespace ds::ch07
