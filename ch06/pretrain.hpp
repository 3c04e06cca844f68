// The pretraining of the mini-DeepSeek as DeepSeek-V3 trains: the common trainer
// (common/trainer.hpp: AdamW, warmup + cosine or warmup-stable-decay, global-norm clipping,
// validation, exact resume) with the loss L_Main + lambda / D sum_k L_MTP^k (V3 eq. 25) plus the
// sequence-wise balance loss of every MoE layer (eqs. 17-20), and the auxiliary-loss-free bias
// update after every step (section 2.1.2) as the trainer's hook.
#pragma once

#include "ch04/balance_hook.hpp"
#include "ch06/model.hpp"
#include "common/trainer.hpp"

namespace ds::ch06 {

// 1500 steps of 8 x 128 tokens, lr 2e-3 warmed up over 100 steps then cosine to 2e-4, weight
// decay 0.1, clipping at 1, validation every 100 steps on 8 batches.
TrainerConfig pretrain_trainer_config();

struct PretrainConfig {
  TrainerConfig train = pretrain_trainer_config();
  float mtp_lambda = 0.3f;    // V3: 0.3 for the first 10T tokens, then 0.1
  float bias_gamma = 1e-3f;   // V3: 0.001
  float seq_alpha = 1e-4f;    // V3: 0.0001
};

// V3's balancing (bias rule + sequence-wise loss), or V2's sequence-wise loss alone for a gate
// without the bias (topk_method other than noaux_tc).
ch04::BalanceConfig pretrain_balancing(const DeepSeekConfig& model, const PretrainConfig& cfg);

// The trainer and its balancing hook, wired to one model (which must outlive them).
struct Pretrainer {
  Pretrainer(DeepSeekModel& model, const PretrainConfig& cfg);
  ch04::BalanceHook balance;
  Trainer trainer;
};

}  // namespace ds::ch06
