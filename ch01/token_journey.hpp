// The journey of one prompt through the assembled mini-DeepSeek (ch06's DeepSeekModel), stage by
// stage, so a reader sees every number the model makes on the way to its next token: the
// embedding rows, each layer's MLA latent and what it caches, each MoE layer's routing of the
// last token, the final logits, and the MTP module's draft of the token after next.
//
// The walk runs the model's own modules in the order its forward runs them (ch02's Block:
// x += attn(norm(x)); x += ffn(norm(x))), prefilling a latent cache per layer as decoding does;
// the tests prove its logits equal model.forward's and its routing equals the one the MoE layers
// used.
#pragma once

#include <vector>

#include "ch06/model.hpp"

namespace ds::ch01 {

// The router of one MoE layer on the last token (ch04's Gate; V3 eqs. 13-16).
struct RouterStop {
  std::vector<float> scores;      // [E] affinities s (sigmoid, or softmax for V2's configs)
  std::vector<float> bias;        // [E] e_score_correction_bias, used only to choose (empty without noaux_tc)
  std::vector<int32_t> experts;   // [k] the chosen experts, in the gate's order
  std::vector<float> weights;     // [k] their combine weights g
};

// One block (a decoder layer or an MTP module's block) for the last token.
struct LayerStop {
  int64_t layer = 0;              // its index in model.layers
  bool mtp = false, moe = false;
  double input_norm = 0, attention_norm = 0, ffn_norm = 0, output_norm = 0;   // L2 norms: the residual in, what attention and the FFN add, the residual out
  std::vector<float> c_kv;        // [kv_lora_rank] the latent c_KV = kv_a_layernorm(W_DKV x) (V2 eq. 9)
  std::vector<float> cached;      // [kv_lora_rank + qk_rope_head_dim] the cache's row for the last token: c_KV then RoPE(k_pe)
  int64_t cache_length = 0, cache_capacity = 0, cache_bytes = 0, cache_bytes_used = 0;   // from the cache object
  int64_t naive_bytes_per_token = 0;   // per-head K and V as MHA would cache them: n_h (d_qk + d_v) floats
  RouterStop router;              // when moe
  int64_t cache_bytes_per_token() const { return cache_capacity ? cache_bytes / cache_capacity : 0; }
};

struct Journey {
  std::vector<int32_t> ids;
  Tensor embeddings;              // [1, T, C] the rows of embed_tokens
  std::vector<LayerStop> layers;  // the main model's
  Tensor logits;                  // [1, T, V] after model.norm and lm_head
  std::vector<int32_t> top_ids;   // the last position's most likely next tokens, best first
  std::vector<double> top_probs;
  // The first MTP module (V3 section 2.2) at the last position: it reads the main model's final
  // hidden state and the embedding of the main head's greedy next token, and predicts the token
  // after it, the draft self-speculative decoding checks (ch05/speculative.hpp).
  bool has_mtp = false;
  int32_t next_token = -1;
  LayerStop mtp_block;
  Tensor mtp_logits;              // [V]
  std::vector<int32_t> draft_ids;
  std::vector<double> draft_probs;
};

// ids: 1 to max_positions tokens. Switches the model's MLA to the absorbed path (the latent
// cache, as decoding runs it) and runs without autograd.
Journey trace_journey(ch06::DeepSeekModel& model, const std::vector<int32_t>& ids, int64_t top_k = 5);

// The k most likely entries of softmax(logits[0..n)) as (ids, probabilities), best first.
void top_k_softmax(const float* logits, int64_t n, int64_t k, std::vector<int32_t>& ids, std::vector<double>& probs);

}  // namespace ds::ch01
