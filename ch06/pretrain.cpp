#include "ch06/pretrain.hpp"

#include <stdexcept>

#include "common/memory.hpp"

namespace ds::ch06 {

TrainerConfig pretrain_trainer_config() {
  TrainerConfig c;
  c.steps = 1500;
  c.batch_size = 8;
  c.seq_len = 128;
  c.lr = 2e-3f;
  c.min_lr = 2e-4f;
  c.warmup = 100;
  c.eval_every = 100;
  c.eval_batches = 8;
  c.label = "pretrain";
  return c;
}

// V3 (section 2.1.2): the bias rule plus a small sequence-wise loss. A gate without
// e_score_correction_bias (V2's greedy or group_limited_greedy routing) balances by the
// sequence-level expert loss alone, as DeepSeek-V2 does (section 2.2.3, eqs. 12-14).
ch04::BalanceConfig pretrain_balancing(const DeepSeekConfig& model, const PretrainConfig& cfg) {
  ch04::BalanceConfig bc;
  bc.strategy = model.topk_method == "noaux_tc" ? ch04::Balancing::V3 : ch04::Balancing::SeqAux;
  bc.gamma = cfg.bias_gamma;
  bc.seq_alpha = cfg.seq_alpha;
  return bc;
}

Pretrainer::Pretrainer(DeepSeekModel& model, const PretrainConfig& cfg)
    : balance(model.moe_layers(), pretrain_balancing(model.config(), cfg)),
      trainer(model.named_parameters(), cfg.train, ch04::with_balance_loss(ch05::mtp_training_loss(model, cfg.mtp_lambda), balance)) {
  trainer.add_hook(balance);
  trainer.add_run_settings({{"--mtp-lambda", cfg.mtp_lambda}, {"--gamma", cfg.bias_gamma}, {"--seq-alpha", cfg.seq_alpha}});
}

void add_data_settings(Trainer& trainer, uint64_t seed, const std::string& data_path, int64_t corpus_kb) {
  trainer.add_run_settings({{"--seed", seed}, {"--data", data_path}});
  if (data_path.empty()) trainer.add_run_settings({{"--corpus-kb", corpus_kb}});   // the built-in corpus's size
}

void check_resume_config(const std::string& config_path, const DeepSeekConfig& saved) {
  if (config_path.empty()) return;
  DeepSeekConfig given = load_config(config_path);   // an invalid file is refused here, in its own sentence
  given.vocab_size = saved.vocab_size;
  if (to_json(given) != to_json(saved))
    throw std::runtime_error("--config " + config_path + " is not the model of the checkpoint being resumed; leave --config out to continue "
                             "that run (its config.json is used), or start a new run without --resume");
}

void check_training_fits(const DeepSeekConfig& model, const TrainerConfig& train) {
  memory::require_fits(training_bytes_floor(model, train.batch_size, train.micro_batches, train.seq_len),
                       "a training step of " + std::to_string(train.batch_size) + " x " + std::to_string(train.seq_len) + " tokens",
                       "lower --batch or --seq, or split the batch with --micro-batches");
}

}  // namespace ds::ch06
