// The memory training takes beyond the weights: gradients, AdamW's two moments, and the
// activations the backward pass reads.
//
// Per parameter, two recipes:
//   FP32 AdamW (this repository's training):   weights 4 + gradients 4 + moments 4 + 4 = 16 bytes
//   DeepSeek-V3 (section 3.3.3):                master weights 4 (FP32) + gradients 4 (FP32)
//                                               + moments 2 + 2 (BF16)                = 12 bytes
// (V3 also keeps the FP8 copies its GEMMs read; the paper gives no size for them.)
//
// Activations: what the backward pass needs, counted per token in elements (activation_elements
// spells out each term). DeepSeek-V3 recomputes every RMSNorm and the MLA up-projections in the
// backward pass instead of storing their outputs (section 3.2.3), so the same formula is given
// with those terms dropped. It is an estimate of the tensors a straightforward implementation
// keeps, not a measurement of DeepSeek's (which also stores some activations in FP8).
#pragma once

#include <string>
#include <vector>

#include "common/deepseek_config.hpp"

namespace ds::ch01 {

struct OptimizerRecipe {
  std::string name, source;
  int64_t weight_bytes, gradient_bytes, moment_bytes;   // per parameter; moments are AdamW's m and v together
  int64_t per_parameter() const { return weight_bytes + gradient_bytes + moment_bytes; }
};
std::vector<OptimizerRecipe> optimizer_recipes();   // FP32 AdamW, then DeepSeek-V3's

// Elements kept for the backward pass, per token, by where they are made. With h hidden, n_h
// heads, d_qk = qk_nope + qk_rope, d_v, d_cq = q_lora_rank, d_c = kv_lora_rank, d_R = qk_rope,
// I dense width, m expert width, k experts per token, E experts, n_s shared experts, V vocab:
//   attention layer  2h + 2d_cq + (d_c + d_R) + d_c + n_h d_qk + n_h d_nope + 2 n_h d_v + n_h
//       (block input, its RMSNorm; c_Q and its norm; kv_a's output, normed c_KV; q; k_nope and v
//        up-projected; the attention output; one softmax log-sum-exp per head)
//       recomputing: h + d_cq + (d_c + d_R) + n_h d_v + n_h
//   dense FFN        2h + 3I                 (input, its norm; gate, up, silu(gate) * up)
//       recomputing: h + 3I
//   MoE FFN          2h + E + k(h + 3m) + kh + 3 n_s m
//       (input, its norm; the router's scores; each chosen expert's copy of the token, gate, up,
//        product; each expert's output for the combine weights' gradient; the shared experts)
//       recomputing: h + E + k(h + 3m) + kh + 3 n_s m
//   head             2h + V                  (input, model.norm's output, the logits); recomputing: h + V
//   MTP module input 4h                      (Emb(t_{i+k}) and h_i, enorm and hnorm outputs); recomputing: 2h
//     plus its block and another head.
struct ActivationElements {
  int64_t attention = 0, dense_ffn = 0, moe_ffn = 0, head = 0, mtp_input = 0;
  int64_t main = 0;   // the main model: every layer's attention and FFN, and the head
  int64_t mtp = 0;    // the MTP modules: input, block, head
  int64_t per_token() const { return main + mtp; }
};
ActivationElements activation_elements(const DeepSeekConfig& c, bool recompute_like_v3);

// The same thing measured: the tensor bytes this repository's autograd tape holds after a forward
// pass (main model and MTP modules, with gradients on) of a freshly built model over batch x
// seq_len random tokens, per token. Small configs only (it builds the model).
double measured_activation_bytes_per_token(const DeepSeekConfig& c, int64_t batch, int64_t seq_len, uint64_t seed);

}  // namespace ds::ch01
