// A small pretraining loop shared by every chapter that compares models by training them:
// AdamW, warmup + cosine schedule, clipping, periodic validation on fixed batches, a progress
// bar. Chapters add their own loss terms (MoE balance, MTP) and per-step hooks (bias updates).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ch02/language_model.hpp"
#include "common/dataset.hpp"

namespace ds::ch02 {

struct TrainConfig {
  int64_t steps = 200;
  int64_t batch_size = 8;
  int64_t seq_len = 64;
  float lr = 2e-3f;
  float min_lr = 2e-4f;
  int64_t warmup = 20;
  float weight_decay = 0.1f;
  float grad_clip = 1.f;
  int64_t eval_every = 50;       // also evaluates at step 0 and at the end
  int64_t eval_batches = 8;
  uint64_t seed = 1234;
  std::string label = "train";   // the progress bar's name
  bool progress = true;
};

struct TrainHistory {
  std::vector<double> step, train_loss, lr;
  std::vector<double> eval_step, val_loss;
  double best_val_loss = 0, final_val_loss = 0;
  double seconds = 0, tokens_per_second = 0;
};

// The loss of one batch; the default is next-token cross-entropy of model.forward(inputs).
using LossFn = std::function<Tensor(LanguageModel& model, const Batch& batch)>;
using StepHook = std::function<void(int64_t step)>;

Tensor next_token_loss(LanguageModel& model, const Batch& batch);
double evaluate(LanguageModel& model, const TokenDataset& data, int64_t batch_size, int64_t seq_len,
                int64_t max_batches, const LossFn& loss = next_token_loss);
TrainHistory train(LanguageModel& model, const TokenDataset& data, const TrainConfig& cfg,
                   const LossFn& loss = next_token_loss, const StepHook& after_step = {});

}  // namespace ds::ch02
