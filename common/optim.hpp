// Optimisation: AdamW with decoupled weight decay (Loshchilov & Hutter), global-norm gradient
// clipping, the two learning-rate schedules DeepSeek uses (warmup + cosine in V2's ablations;
// warmup-stable-decay, a multi-step variant of which V3 used), and a parameter EMA.
#pragma once

#include <string>
#include <vector>

#include "common/nn.hpp"

namespace ds {

struct AdamWConfig {
  float lr = 3e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;          // DeepSeek-V2/V3 pretraining
  float eps = 1e-8f;
  float weight_decay = 0.1f;    // DeepSeek-V2/V3 pretraining
  bool decay_vectors = false;   // norms' weights and biases (1-D) are usually not decayed
};

class AdamW {
 public:
  AdamW(NamedTensors params, AdamWConfig cfg);
  // Uses cfg().lr; skips parameters with no grad. Each gradient is multiplied by grad_scale as it
  // is read, so clipping (clip_scale) costs no extra pass over the gradients.
  void step(float grad_scale = 1.f);
  void set_lr(float lr) { cfg_.lr = lr; }
  const AdamWConfig& cfg() const { return cfg_; }
  int64_t step_count() const { return t_; }
  void zero_grad();

  // Moments named "exp_avg.<param>" and "exp_avg_sq.<param>", for resumable checkpoints.
  NamedTensors state() const;
  void load_state(const NamedTensors& state, int64_t step_count);
  int64_t state_bytes() const;

 private:
  NamedTensors params_;
  std::vector<Tensor> m_, v_;
  AdamWConfig cfg_;
  int64_t t_ = 0;
};

// Scales all gradients so their global L2 norm is at most max_norm; returns the norm before.
float clip_grad_norm(const std::vector<Tensor>& params, float max_norm);
// The factor clip_grad_norm would scale by (1 when norm <= max_norm), for AdamW::step(grad_scale).
float clip_scale(float norm, float max_norm);
float grad_norm(const std::vector<Tensor>& params);
// The sum of the squares of all gradients (grad_norm squared, in double): pipeline stages add
// theirs up into one global norm.
double grad_sq_norm(const std::vector<Tensor>& params);

// Linear warmup from 0 to peak over `warmup` steps, then cosine decay to min_lr at `total`.
float lr_warmup_cosine(int64_t step, int64_t warmup, int64_t total, float peak, float min_lr);
// Warmup, a long constant stage, then a linear decay to min_lr over the last decay_frac of steps.
float lr_warmup_stable_decay(int64_t step, int64_t warmup, int64_t total, float peak, float min_lr,
                             float decay_frac = 0.2f);

// Exponential moving average of a module's parameters: ema = decay * ema + (1 - decay) * p.
class EMA {
 public:
  EMA(const Module& m, float decay);
  void update(const Module& m);
  void copy_to(Module& m) const;             // loads the averaged weights into m
 private:
  NamedTensors shadow_;
  float decay_;
};

}  // namespace ds
