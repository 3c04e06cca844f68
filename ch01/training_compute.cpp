#include "ch01/training_compute.hpp"

namespace ds::ch01 {

int64_t matmul_parameters(const DeepSeekConfig& c, bool with_mtp) {
  const ParamCount p = count_parameters(c);
  int64_t n = p.main_active() - p.embedding;
  if (with_mtp) n += p.mtp_active + c.num_nextn_predict_layers * c.vocab_size * c.hidden_size;   // each module's block, eh_proj, norms; lm_head again
  return n;
}

double attention_flops_per_token(const DeepSeekConfig& c, int64_t seq_len, bool with_mtp) {
  const double layers = static_cast<double>(c.num_hidden_layers + (with_mtp ? c.num_nextn_predict_layers : 0));
  const double keys = (static_cast<double>(seq_len) + 1) / 2;
  const double per_key = 2.0 * static_cast<double>(c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim);
  return 3.0 * layers * static_cast<double>(c.num_attention_heads) * keys * per_key;
}

double gpu_hours(double flops, double peak_flops_per_gpu, double mfu) { return flops / (peak_flops_per_gpu * mfu) / 3600.0; }

double implied_mfu(double flops, double hours, double peak_flops_per_gpu) { return flops / (hours * 3600.0 * peak_flops_per_gpu); }

}  // namespace ds::ch01
