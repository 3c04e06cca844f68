// The pretraining of the mini-DeepSeek as DeepSeek-V3 trains: the common trainer
// (common/trainer.hpp: AdamW, warmup + cosine or warmup-stable-decay, global-norm clipping,
// validation, exact resume) with the loss L_Main + lambda / D sum_k L_MTP^k (V3 eq. 25) plus the
// sequence-wise balance loss of every MoE layer (eqs. 17-20), and the auxiliary-loss-free bias
// update after every step (section 2.1.2) as the trainer's hook.
#pragma once

#include <string>

#include "ch04/balance_hook.hpp"
#include "ch06/model.hpp"
#include "common/run.hpp"
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
  // GEMM precision of training (gemm.hpp): float32, bf16 (BF16 inputs, float32 accumulation,
  // float32 master weights and AdamW state) or auto (bf16 where the CPU has BF16 instructions).
  std::string precision = "float32";
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

// The model a run will train, known before its corpus is read: the checkpoint's when resuming,
// else the --config file's or the preset's, with vocab_size at least 256 (a byte-level BPE's
// floor; the tokenizer trained later sets the exact size).
DeepSeekConfig planned_model(const std::string& preset_name, const std::string& config_path, const std::string& resume);

// Refuses, before the step allocates it, a batch whose training step cannot fit in this
// machine's memory (training_bytes_floor against memory::available_bytes), naming both numbers.
void check_training_fits(const DeepSeekConfig& model, const TrainerConfig& train);
// Sets ds::gemm's precision from PretrainConfig::precision and returns the one line that says which
// runs (with oneDNN's kernel for bf16); "bf16" where unavailable fails with the reason.
std::string apply_precision(const std::string& precision);

// Model FLOPs per token of a training step (forward + backward = 3x forward): 6 per active weight,
// plus causal attention's scores and weighted sum over seq/2 keys on average in every layer and
// MTP module (Kaplan et al.'s accounting with the attention term).
double training_flops_per_token(const DeepSeekConfig& cfg, int64_t seq);
std::string training_flops_formula(const DeepSeekConfig& cfg, int64_t seq);   // the formula with its numbers

// How much of the machine a training step uses: its model FLOPs per second as a share of the
// practical GEMM roof (gemm_roof_gflops) measured in the same run at the step's precision.
struct StepUtilisation {
  double flops_per_token = 0, tokens_per_s = 0, gflops = 0, roof_gflops = 0, share = 0;
  std::string precision, formula;
};
StepUtilisation step_utilisation(const DeepSeekConfig& cfg, int64_t seq, double tokens_per_s, double roof_seconds = 1.0);
std::string describe(const StepUtilisation& u);              // one line for a summary table
void add_to_summary(Summary& summary, const StepUtilisation& u);   // utilisation.* keys

}  // namespace ds::ch06
