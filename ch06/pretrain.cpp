#include "ch06/pretrain.hpp"

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
}

}  // namespace ds::ch06
