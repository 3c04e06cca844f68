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

// The trainer and its balancing hook, wired to one model (which must outlive them). The loss
// weights (--mtp-lambda, --gamma, --seq-alpha) are the trainer's run settings: a resume with
// others is refused.
struct Pretrainer {
  Pretrainer(DeepSeekModel& model, const PretrainConfig& cfg);
  ch04::BalanceHook balance;
  Trainer trainer;
};

// The data a run trains on, by flag (--seed, which also splits and generates the corpus, and
// --data or --corpus-kb), added to the trainer's run settings: a resume on other data is refused.
void add_data_settings(Trainer& trainer, uint64_t seed, const std::string& data_path, int64_t corpus_kb);

// --config beside --resume names the model the run continues: it must be valid and the
// checkpoint's own (vocab_size aside, which the tokenizer sets), or the resume is refused.
void check_resume_config(const std::string& config_path, const DeepSeekConfig& saved);

// Refuses, before the step allocates it, a batch whose training step cannot fit in this
// machine's memory (training_bytes_floor against memory::available_bytes), naming both numbers.
void check_training_fits(const DeepSeekConfig& model, const TrainerConfig& train);

}  // namespace ds::ch06
