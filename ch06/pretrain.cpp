#include "ch06/pretrain.hpp"

#include <stdexcept>

#include "common/fsutil.hpp"
#include "common/memory.hpp"
#include "common/gemm.hpp"
#include "common/gemm_onednn.hpp"

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

DeepSeekConfig planned_model(const std::string& preset_name, const std::string& config_path, const std::string& resume) {
  if (!resume.empty()) {
    recover_interrupted_save(resume);
    return load_config(resume + "/config.json");
  }
  DeepSeekConfig c = config_path.empty() ? preset(preset_name) : load_config(config_path);
  c.vocab_size = 256;
  return c;
}

void check_training_fits(const DeepSeekConfig& model, const TrainerConfig& train) {
  memory::require_fits(training_bytes_floor(model, train.batch_size, train.micro_batches, train.seq_len),
                       "a training step of " + std::to_string(train.batch_size) + " x " + std::to_string(train.seq_len) + " tokens",
                       "lower --batch or --seq, or split the batch with --micro-batches");
}

std::string apply_precision(const std::string& precision) {
  const GemmPrecision p = parse_gemm_precision(precision);   // a sentence on bad or unavailable input
  set_gemm_precision(p);
  if (p == GemmPrecision::BF16)
    return "GEMM precision: bf16 inputs, float32 accumulation, float32 weights and AdamW state (oneDNN " + bf16_gemm_implementation() + ")";
  return "GEMM precision: float32" + (precision == "auto" ? " (" + bf16_gemm_unavailable_reason() + ")" : std::string());
}

namespace {
// Attention's multiply-adds per token and layer in the forward: scores (qk head dim) and the
// weighted sum (v head dim) over seq/2 visible keys on average, per head.
double attention_fwd_flops(const DeepSeekConfig& c, int64_t seq) {
  return 2.0 * static_cast<double>(c.num_attention_heads) * (static_cast<double>(seq) / 2.0) *
         static_cast<double>(c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim);
}
double attention_layers(const DeepSeekConfig& c) { return static_cast<double>(c.num_hidden_layers + c.num_nextn_predict_layers); }
}  // namespace

double training_flops_per_token(const DeepSeekConfig& cfg, int64_t seq) {
  return 6.0 * static_cast<double>(count_parameters(cfg).active) + 3.0 * attention_layers(cfg) * attention_fwd_flops(cfg, seq);
}

std::string training_flops_formula(const DeepSeekConfig& c, int64_t seq) {
  return fmt("6 x %.2fM active weights + 3 x %g layers x 2 x %lld heads x %lld/2 keys x (%lld + %lld + %lld) = %.1f MFLOP per token",
             static_cast<double>(count_parameters(c).active) / 1e6, attention_layers(c), static_cast<long long>(c.num_attention_heads),
             static_cast<long long>(seq), static_cast<long long>(c.qk_nope_head_dim), static_cast<long long>(c.qk_rope_head_dim),
             static_cast<long long>(c.v_head_dim), training_flops_per_token(c, seq) / 1e6);
}

StepUtilisation step_utilisation(const DeepSeekConfig& cfg, int64_t seq, double tokens_per_s, double roof_seconds) {
  StepUtilisation u;
  u.flops_per_token = training_flops_per_token(cfg, seq);
  u.formula = training_flops_formula(cfg, seq);
  u.tokens_per_s = tokens_per_s;
  u.gflops = u.flops_per_token * tokens_per_s / 1e9;
  u.roof_gflops = gemm_roof_gflops(roof_seconds);
  u.share = u.gflops / u.roof_gflops;
  u.precision = gemm_precision_name(gemm_precision());
  return u;
}

std::string describe(const StepUtilisation& u) {
  return fmt("%.0f%% of the GEMM roof: %.1f GFLOP/s (%.1f MFLOP/token x %.0f tokens/s) against %.1f (%s square 1024 GEMM, measured now)",
             100 * u.share, u.gflops, u.flops_per_token / 1e6, u.tokens_per_s, u.roof_gflops, u.precision.c_str());
}

void add_to_summary(Summary& summary, const StepUtilisation& u) {
  summary.set("utilisation.share_of_roof", u.share);
  summary.set("utilisation.step_gflops", u.gflops);
  summary.set("utilisation.roof_gflops", u.roof_gflops);
  summary.set("utilisation.flops_per_token", u.flops_per_token);
  summary.set("utilisation.formula", u.formula);
  summary.set("utilisation.precision", u.precision);
}

}  // namespace ds::ch06
