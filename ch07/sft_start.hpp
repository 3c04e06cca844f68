// The SFT start every post-training program of this chapter begins from, as one function: stage 1
// trains on short operands until the model adds them almost perfectly; stage 2 trains on a small
// fixed set of labelled long problems (labelled_set.hpp) until validation exact match stops
// improving, and keeps the best probe's weights (plateau.hpp). ch07_sft runs it once and shows
// it; the comparison programs run it once per seed (`--seeds N`), so that a result says how it
// varies with the start and not only with the RL run.
#pragma once

#include <string>
#include <vector>

#include "ch07/labelled_set.hpp"
#include "ch07/task_model.hpp"
#include "common/trainer.hpp"

namespace ds::ch07 {

struct SftStartConfig {
  Task task = Task::addition;
  std::string model_size = "small";   // task_model.hpp: small = hidden 96, 3 layers; tiny = hidden 48, 2 layers
  std::vector<int> short_lengths{1}, long_lengths{2};
  int64_t short_steps = 300, long_steps = 1200, batch = 32;
  int64_t eval_every = 100;           // stage 1's validation probe
  int64_t long_eval_every = 40;       // stage 2's validation probe (the stop looks only here)
  int long_examples = 192;            // labelled problems per long length
  int patience = 8;                   // probes in a row without a new best that end stage 2 (0: no stop)
  double fitted_loss = 0.02;          // ... and only once the training loss since the last probe is below this
  double long_target = 0;             // > 0: also end stage 2 at the first probe reaching this exact match (%)
  int probe_n = 64;                   // validation problems per length of the probes
  int vocab = 320;
  float lr = 4e-3f;                   // peak; warmup 20 steps, cosine to a tenth over both stages
  bool progress = true;               // progress bars and probe lines
};

struct SftStart {
  Policy policy;
  LabelledSet labelled;
  int64_t stage1_steps = 0, stage2_steps = 0;
  int64_t kept_step = 0;              // the step whose weights the start keeps
  bool stopped = false;               // stage 2 ended by its convergence (or target) stop
  double best_validation = 0;         // the best stage-2 probe, exact match in %
  size_t validation_problems = 0;     // problems of each stage-2 probe
  std::vector<double> probe_step, short_em, long_em;   // the validation curve (exact match in %)
  Problem example;                    // a training problem of the longest long length, to show the template
  TrainHistory history;               // the training loss per step
  double seconds = 0;                 // wall time of training
};

// --quick's start: the tiny model and a few steps of each stage (seconds, for the smoke tests).
void make_quick(SftStartConfig& c);

// Trains the start with `seed` (initial weights and batches); stop() is polled after every step
// (Ctrl-C: what was trained is returned).
SftStart train_sft_start(const SftStartConfig& cfg, uint64_t seed, const std::function<bool()>& stop = {});

// The folder ch07_sft writes: the policy (ch06_generate reads it) and labelled_set.json.
void save_sft_start(const std::string& dir, const SftStart& s);

}  // namespace ds::ch07
