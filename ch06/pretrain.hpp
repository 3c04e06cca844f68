// The pretraining loop of the mini-DeepSeek, as one object whose whole state can be saved and
// restored: AdamW (FP32 master weights and moments), warmup + cosine or warmup-stable-decay,
// global-norm clipping, the MTP loss (lambda / D sum CE_k, V3 eq. 25), DeepSeek-V3's balancing
// (the auxiliary-loss-free bias after every step plus the sequence-wise loss), periodic
// validation, and the data sampler's RNG, so that a resumed run continues the same sequence.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ch04/balancer.hpp"
#include "ch06/model.hpp"
#include "common/dataset.hpp"
#include "common/optim.hpp"

namespace ds::ch06 {

struct PretrainConfig {
  int64_t steps = 1500;
  int64_t batch_size = 8, seq_len = 128;
  float lr = 2e-3f, min_lr = 2e-4f;
  int64_t warmup = 100;
  std::string schedule = "cosine";   // or "wsd" (warmup-stable-decay)
  float weight_decay = 0.1f, grad_clip = 1.f;
  float mtp_lambda = 0.3f;           // V3: 0.3 for the first 10T tokens, then 0.1
  float bias_gamma = 1e-3f;          // V3: 0.001
  float seq_alpha = 1e-4f;           // V3: 0.0001
  int64_t eval_every = 100, eval_batches = 8;
  uint64_t seed = 1234;
};

struct StepStats {
  double loss = 0, main_ce = 0, mtp_ce = 0, lr = 0, grad_norm = 0, maxvio = 0;
  double forward_s = 0, backward_s = 0, optimizer_s = 0;   // where the step's time went
};

struct PretrainHistory {
  std::vector<double> step, loss, main_ce, mtp_ce, lr, grad_norm, maxvio;
  std::vector<double> eval_step, val_main, val_mtp;
  std::vector<std::vector<double>> expert_load;   // per step: the first MoE layer's load shares
};

class Pretrainer {
 public:
  Pretrainer(DeepSeekModel& model, const PretrainConfig& cfg);

  // One optimizer step on this batch: forward with MTP, backward, clipping, AdamW, bias update.
  StepStats train_step(const Batch& batch);
  // Samples the next training batch from the trainer's own RNG, takes the step, records it.
  StepStats step(const TokenDataset& data);
  // Main-head and MTP validation cross-entropy over the first eval_batches validation batches.
  std::pair<double, double> evaluate(const TokenDataset& data);
  void record_eval(const TokenDataset& data);

  int64_t step_count() const { return step_; }
  float lr_at(int64_t step) const;
  const PretrainConfig& config() const { return cfg_; }
  AdamW& optimizer() { return *opt_; }
  PretrainHistory history;

  // optimizer.safetensors + trainer_state.json into dir, and back (the model's weights and
  // balancing biases travel in model.safetensors).
  void save_state(const std::string& dir) const;
  void load_state(const std::string& dir);

 private:
  DeepSeekModel& model_;
  PretrainConfig cfg_;
  std::unique_ptr<AdamW> opt_;
  std::unique_ptr<ch04::Balancer> balancer_;
  Rng data_rng_;
  int64_t step_ = 0;
};

}  // namespace ds::ch06
