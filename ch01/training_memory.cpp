#include "ch01/training_memory.hpp"

#include <algorithm>

#include "ch06/model.hpp"
#include "common/memory.hpp"

namespace ds::ch01 {

std::vector<OptimizerRecipe> optimizer_recipes() {
  return {{"FP32 AdamW", "float32 weights, gradients and moments, as this repository trains (common/optim.hpp)", 4, 4, 8},
          {"DeepSeek-V3", "FP32 master weights and gradients, BF16 moments (V3 section 3.3.3)", 4, 4, 4}};
}

ActivationElements activation_elements(const DeepSeekConfig& c, bool recompute) {
  const int64_t h = c.hidden_size, nh = c.num_attention_heads, dqk = c.qk_nope_head_dim + c.qk_rope_head_dim, dv = c.v_head_dim;
  const int64_t dcq = c.q_lora_rank, dc = c.kv_lora_rank, dr = c.qk_rope_head_dim, k = c.num_experts_per_tok, m = c.moe_intermediate_size;
  // Recomputed in V3's backward (section 3.2.3): RMSNorm outputs (the block's, c_Q's and c_KV's)
  // and the up-projections' outputs (q from q_b_proj, k_nope and v from kv_b_proj). Without a
  // q_lora_rank the query is q_proj(x), a plain projection, and stays.
  ActivationElements a;
  if (recompute)
    a.attention = h + dcq + (dc + dr) + nh * dv + nh + (dcq > 0 ? 0 : nh * dqk);
  else
    a.attention = 2 * h + 2 * dcq + (dc + dr) + dc + nh * dqk + nh * c.qk_nope_head_dim + 2 * nh * dv + nh;
  const int64_t norm_out = recompute ? 0 : h;
  a.dense_ffn = h + norm_out + 3 * c.intermediate_size;
  a.moe_ffn = h + norm_out + c.n_routed_experts + k * (h + 3 * m) + k * h + 3 * c.n_shared_experts * m;
  a.head = h + norm_out + c.vocab_size;
  a.mtp_input = recompute ? 2 * h : 4 * h;
  const int64_t dense_layers = std::min(c.first_k_dense_replace, c.num_hidden_layers);
  a.main = c.num_hidden_layers * a.attention + dense_layers * a.dense_ffn + c.moe_layers() * a.moe_ffn + a.head;
  for (int64_t d = 0; d < c.num_nextn_predict_layers; ++d) {
    const bool dense = c.num_hidden_layers + d < c.first_k_dense_replace;
    a.mtp += a.mtp_input + a.attention + (dense ? a.dense_ffn : a.moe_ffn) + a.head;
  }
  return a;
}

double measured_activation_bytes_per_token(const DeepSeekConfig& c, int64_t batch, int64_t seq_len, uint64_t seed) {
  Rng rng(seed);
  ch06::DeepSeekModel model(c, rng);
  std::vector<int32_t> ids(static_cast<size_t>(batch * seq_len));
  for (int32_t& id : ids) id = static_cast<int32_t>(rng.randint(c.vocab_size));
  const int64_t before = memory::live_bytes();
  const ch05::MTPModel::Outputs out = model.forward_all(IntTensor(ids, {batch, seq_len}));   // the outputs keep the tape alive
  return static_cast<double>(memory::live_bytes() - before) / static_cast<double>(batch * seq_len);
}

}  // namespace ds::ch01
