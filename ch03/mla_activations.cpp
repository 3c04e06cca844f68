#include "ch03/mla_activations.hpp"

namespace ds::ch03 {

int64_t mla_recompute_elements_per_token(const MLAConfig& c) {
  const int64_t h = c.num_heads, nope = c.qk_nope_head_dim, r = c.qk_rope_head_dim, dv = c.v_head_dim, qk = c.qk_head_dim();
  const int64_t query = c.q_lora_rank > 0 ? c.q_lora_rank + h * qk : 0;   // q_norm, wq_b; without compression wq's output stays as the input
  const int64_t q_heads = h * qk;                                        // q after RoPE on its tail (before: wq_b's output, or the latent)
  const int64_t latent = 2 * c.kv_lora_rank + 2 * r;                     // c_KV raw and normed, k_pe before and after RoPE
  const int64_t kv_heads = h * (nope + dv) + h * qk + h * dv;            // wkv_b's output, k (mla_keys), v
  return query + q_heads + latent + kv_heads;
}

int64_t block_recompute_elements_per_token(const MLAConfig& cfg, int64_t hidden_size) {
  return 2 * hidden_size + mla_recompute_elements_per_token(cfg);
}

}  // namespace ds::ch03
