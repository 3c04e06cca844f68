// The repository's one training loop. Every program that trains (ch02's small models, ch04's
// balancing runs, ch05's MTP and FP8 runs, ch06's pretraining) and every later chapter drives
// this class; what differs between them is the loss function and the hooks around the step.
//
// One step: the batch is cut into micro-batches; each goes through the loss function and its
// backward with the loss scaled by 1/k, so k micro-batches of B/k sequences accumulate the
// gradient of one batch of B for any loss that is a mean over the batch; then global-norm
// clipping, AdamW at the schedule's learning rate, and the hooks. A pipeline stage, which runs
// its own forward and backward, calls the two halves of the step itself: grad_sq_norm() (its
// share of the squared global norm; the stages add theirs up) and optimizer_step(global_norm).
//
// Everything a resumed run needs (AdamW's moments, the data sampler's RNG, the step, the
// history, the hooks' own state) is saved into a checkpoint folder and loaded back, so a run
// stopped and resumed takes exactly the steps an uninterrupted one takes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/dataset.hpp"
#include "common/optim.hpp"

namespace ds {

struct TrainerConfig {
  int64_t steps = 200;
  int64_t batch_size = 8;       // sequences per optimizer step
  int64_t seq_len = 64;
  int64_t micro_batches = 1;    // gradient accumulation: batch_size / micro_batches sequences per forward
  float lr = 2e-3f;
  float min_lr = 2e-4f;
  int64_t warmup = 20;
  std::string schedule = "cosine";   // after warmup: "cosine" decay, or "wsd" (warmup-stable-decay)
  float weight_decay = 0.1f;
  float grad_clip = 1.f;
  int64_t eval_every = 50;      // run() also evaluates at step 0 and at the end
  int64_t eval_batches = 8;
  uint64_t seed = 1234;         // the training-batch sampler's
  std::string label = "train";  // the progress bar's name
  bool progress = true;
};

// The programs' training run: batch 8 x 128 tokens, `steps` steps, evaluated `evals` times.
TrainerConfig program_train_config(int64_t steps, uint64_t seed, int64_t evals = 10);

// Named numbers in the order they were added (a step's or an evaluation's results).
class Metrics {
 public:
  void add(const std::string& name, double value);   // adds to an existing entry of that name
  bool has(const std::string& name) const;
  double at(const std::string& name) const;          // throws naming the missing metric
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

// What a loss function returns for one (micro-)batch.
struct Loss {
  Tensor value;      // scalar: the mean over the batch's tokens (or sequences) that backward starts from
  Metrics metrics;   // numbers to record beside it, each also a mean over the batch (e.g. "main_ce")
};
using LossFn = std::function<Loss(const Batch& batch)>;

// The one validation function: with gradients off, the token-weighted mean over `batches` of the
// loss ("loss") and of each of its metrics.
Metrics evaluate(const LossFn& loss, const std::vector<Batch>& batches);

// The `parts` micro-batches of `batch`: consecutive row blocks of batch_size / parts sequences.
std::vector<Batch> split_batch(const Batch& batch, int64_t parts);

struct StepStats {
  int64_t step = 0;   // steps taken after this one (1 for the first)
  double loss = 0, lr = 0, grad_norm = 0;   // grad_norm before clipping
  Metrics metrics;                          // the loss function's (mean over micro-batches) and the hooks'
  double forward_s = 0, backward_s = 0, optimizer_s = 0;   // where the step's time went
  int64_t peak_bytes = 0;   // tensor memory the step held at its peak above what was live before it
};

struct TrainHistory {
  std::vector<double> step;                           // 1, 2, ...
  std::map<std::string, std::vector<double>> train;   // per step: "loss", "lr", "grad_norm" and every metric
  std::vector<double> eval_step;                      // 0, eval_every, ..., steps
  std::map<std::string, std::vector<double>> val;     // per evaluation: "loss" and the loss function's metrics
  double seconds = 0;    // time in training steps in this process (evaluations excluded)
  int64_t tokens = 0;    // tokens trained on in this process

  double final_val(const std::string& name = "loss") const;
  double best_val(const std::string& name = "loss") const;
  double tokens_per_second() const;
};

// Runs around the optimizer step; a hook that keeps state a resumed run needs saves it with the
// trainer (under key() in trainer_state.json).
class TrainerHook {
 public:
  virtual ~TrainerHook() = default;
  // Gradients of the whole step are in place and their global norm known (s.grad_norm); AdamW
  // has not run yet.
  virtual void before_step(StepStats& s) { (void)s; }
  // AdamW has updated the weights (V3's bias update, an EMA); may add metrics to s.
  virtual void after_step(StepStats& s) { (void)s; }
  virtual std::string key() const { return ""; }   // "" = no saved state
  virtual nlohmann::json state() const { return nullptr; }
  virtual void load_state(const nlohmann::json& state) { (void)state; }
};

class Trainer {
 public:
  // params: what AdamW updates. loss may be empty for a trainer driven only through
  // grad_sq_norm / optimizer_step (a pipeline stage). replicas: names of parameters another
  // trainer also holds (a pipeline stage's copy of the shared embedding): updated here, but left
  // out of grad_sq_norm so that the global norm counts them once.
  Trainer(NamedTensors params, const TrainerConfig& cfg, LossFn loss, std::vector<std::string> replicas = {});
  // Hooks run in the order added; each must outlive the trainer.
  void add_hook(TrainerHook& hook);

  // The whole run: evaluates at step 0 (unless the history already has an evaluation, as a resumed
  // run's has), every eval_every steps and after the last, with a progress bar. on_step runs after
  // every step (and its evaluation) and may return false to stop early (Ctrl-C).
  const TrainHistory& run(const TokenDataset& data, const std::function<bool(const StepStats&)>& on_step = {});
  // One step on the sampler's next training batch, recorded in the history.
  StepStats step(const TokenDataset& data);
  // The sampler's next training batch, the one step() trains on (a pipeline stage, which runs its
  // own forward and backward, draws it here so that the sampler's state is saved with the trainer).
  Batch next_batch(const TokenDataset& data);
  // One step on this batch (not recorded): every micro-batch's forward and backward, then optimizer_step.
  StepStats train_step(const Batch& batch);

  // The halves of a step for a caller that ran forward and backward itself:
  double grad_sq_norm() const;   // sum of the squares of this trainer's gradients, replicas left out
  // Clips with global_norm (the square root of every stage's grad_sq_norm added up), runs the
  // before-step hooks, AdamW at the schedule's learning rate, zero_grad, the after-step hooks.
  // A non-finite loss (train_step) or global norm stops the run before AdamW touches the
  // weights: a std::runtime_error naming the step and the last checkpoint saved.
  void optimizer_step(double global_norm, StepStats& s);
  // Adds a step to the history (step() does it itself; a caller of optimizer_step may).
  void record(const StepStats& s);

  Metrics evaluate(const TokenDataset& data) const;   // on the first eval_batches validation batches
  void record_eval(const TokenDataset& data);         // evaluate() into the history at this step

  float lr_at(int64_t step) const;
  int64_t step_count() const { return step_; }
  const TrainerConfig& config() const { return cfg_; }
  AdamW& optimizer() { return *opt_; }
  TrainHistory history;

  // optimizer.safetensors + trainer_state.json into the folder dir (each file written
  // atomically; ch06's write_folder_atomic makes the whole folder atomic), and back. Resuming
  // with another schedule or batch shape is refused in one sentence.
  void save_state(const std::string& dir) const;
  void load_state(const std::string& dir);

  // The program's own settings that make a run what it is, by flag ({"--seed": 7, "--data": ...}):
  // saved with the state, and a resume whose settings differ is refused naming the flag (a
  // different corpus, seed or loss weight would quietly make a different run). Added to those
  // given before; set before load_state.
  void add_run_settings(const nlohmann::json& settings) {
    if (settings.is_object()) run_settings_.update(settings);
  }
  // The folder save_state last wrote, as its final name (a save into DIR.tmp is DIR); "" before.
  const std::string& last_saved() const { return last_saved_; }

 private:
  NamedTensors params_;
  std::vector<Tensor> norm_params_;   // params_ without the replicas
  TrainerConfig cfg_;
  LossFn loss_;
  std::unique_ptr<AdamW> opt_;
  std::vector<TrainerHook*> hooks_;
  Rng data_rng_;
  int64_t step_ = 0;
  nlohmann::json run_settings_ = nlohmann::json::object();
  mutable std::string last_saved_;
  mutable int64_t last_saved_step_ = 0;
  [[noreturn]] void diverged(int64_t step, const std::string& what) const;
};

}  // namespace ds
