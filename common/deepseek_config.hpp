// DeepSeek's model configuration as Hugging Face's config.json spells it (DeepSeek-V3's keys),
// read and written with the same keys, so a checkpoint folder here has the layout of the real
// ones. The one copy of the real configurations (deepseek-v3, deepseek-v2, deepseek-v2-lite: the
// values of their released config.json) and of this repository's tiny and mini: ch02's KV budget,
// ch03's MLA shapes and ch06's model all read them from here. The parameter count is computed
// from the shapes, so it works for models far too large to build.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ds {

// YaRN context extension, config.json's "rope_scaling" ("type": "yarn"); factor 1 is none (null).
struct YarnConfig {
  double factor = 1.0;
  int64_t original_max_position_embeddings = 4096;
  double beta_fast = 32, beta_slow = 1;       // rotations bounding the blended band of frequencies
  double mscale = 1.0, mscale_all_dim = 1.0;
};

struct DeepSeekConfig {
  int64_t vocab_size = 1024;
  int64_t hidden_size = 256;
  int64_t num_hidden_layers = 6;
  int64_t num_attention_heads = 8;
  int64_t q_lora_rank = 128;          // 0 (null in config.json): a full-rank q_proj, as V2-Lite
  int64_t kv_lora_rank = 64;
  int64_t qk_nope_head_dim = 32;
  int64_t qk_rope_head_dim = 16;
  int64_t v_head_dim = 32;
  int64_t intermediate_size = 768;    // the dense layers' SwiGLU
  int64_t moe_intermediate_size = 128;
  int64_t n_routed_experts = 16;
  int64_t n_shared_experts = 1;
  int64_t num_experts_per_tok = 2;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  std::string scoring_func = "sigmoid";   // or "softmax" (V2)
  std::string topk_method = "noaux_tc";   // or "greedy", "group_limited_greedy" (ch04/gate.hpp)
  double routed_scaling_factor = 1.0;
  bool norm_topk_prob = true;
  int64_t first_k_dense_replace = 1;
  int64_t num_nextn_predict_layers = 1;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  int64_t max_position_embeddings = 256;
  double initializer_range = 0.02;
  YarnConfig rope_scaling;

  // One sentence about the first inconsistent value, or "" (heads, groups, ranks, methods, ...).
  std::string validate() const;
  int64_t moe_layers() const;   // layers first_k_dense_replace .. num_hidden_layers - 1
};

// "tiny", "mini", "deepseek-v3", "deepseek-v2", "deepseek-v2-lite"; anything else throws one sentence.
DeepSeekConfig preset(const std::string& name);
std::vector<std::string> preset_names();

std::string to_json(const DeepSeekConfig& c);
// Parses and validates; a missing key, a wrong type or an inconsistent value is one sentence
// (std::runtime_error) naming `source`.
DeepSeekConfig from_json(const std::string& text, const std::string& source = "config.json");
DeepSeekConfig load_config(const std::string& path);
void save_config(const std::string& path, const DeepSeekConfig& c);   // atomic

// Parameters by part, as Hugging Face's num_parameters() counts them: e_score_correction_bias
// (an nn.Parameter there, noaux_tc only) included; the MTP modules' embedding and head are the
// main model's, so they are not counted twice.
struct ParamCount {
  int64_t total = 0;        // everything, the MTP modules included
  int64_t active = 0;       // what one token's forward pass reads, embedding table and head included
  int64_t mtp = 0;          // the MTP modules' own weights
  int64_t mtp_active = 0;
  int64_t embedding = 0;    // embed_tokens: vocab_size x hidden_size (a token reads one row of it)
  int64_t head = 0;         // model.norm and lm_head
  // One layer's parts: attention (input_layernorm, self_attn, post_attention_layernorm), a dense
  // layer's SwiGLU, a MoE layer's mlp (gate, shared and routed experts) and what a token reads of it.
  int64_t attention = 0, dense_mlp = 0, moe_mlp = 0, moe_mlp_active = 0;
  int64_t main() const { return total - mtp; }                 // DeepSeek-V3's "671B"
  int64_t main_active() const { return active - mtp_active; }
};
ParamCount count_parameters(const DeepSeekConfig& c);

// A lower bound on the float32 tensor bytes one training step of this model holds: weights,
// gradients and AdamW's two moments (16 bytes a parameter), the batch's token ids, and per token
// of a micro-batch the least every layer keeps for backward (its input, attention output, MLP
// input and output: 4 x hidden_size floats, plus each head's attention probabilities over the
// sequence) and the logits with their gradient for the main head and each MTP module.
double training_bytes_floor(const DeepSeekConfig& c, int64_t batch, int64_t micro_batches, int64_t seq_len);

}  // namespace ds
