// The model's configuration as Hugging Face's DeepSeek-V3 config.json spells it, read and
// written with the same keys, so a checkpoint folder here has the layout of the real ones.
// Presets: tiny (tests), mini (the pretraining default) and the real deepseek-v3, deepseek-v2
// and deepseek-v2-lite values (for calculators; too large to build here).
#pragma once

#include <string>
#include <vector>

#include "ch04/moe_model.hpp"

namespace ds::ch06 {

struct DeepSeekConfig {
  int64_t vocab_size = 1024;
  int64_t hidden_size = 256;
  int64_t num_hidden_layers = 6;
  int64_t num_attention_heads = 8;
  int64_t q_lora_rank = 128;
  int64_t kv_lora_rank = 64;
  int64_t qk_nope_head_dim = 32;
  int64_t qk_rope_head_dim = 16;
  int64_t v_head_dim = 32;
  int64_t intermediate_size = 768;
  int64_t moe_intermediate_size = 128;
  int64_t n_routed_experts = 16;
  int64_t n_shared_experts = 1;
  int64_t num_experts_per_tok = 2;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  std::string scoring_func = "sigmoid";
  std::string topk_method = "noaux_tc";
  double routed_scaling_factor = 1.0;
  bool norm_topk_prob = true;
  int64_t first_k_dense_replace = 1;
  int64_t num_nextn_predict_layers = 1;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  int64_t max_position_embeddings = 256;
  double initializer_range = 0.02;
  ch03::YarnConfig rope_scaling;   // factor 1: none ("rope_scaling": null)

  // One sentence about the first inconsistent value, or "" (heads, groups, ranks, ...).
  std::string validate() const;
  // The chapter-4 model description this config builds (MLA + dense/MoE layers).
  ch04::MoEModelConfig model_config() const;
};

// "tiny", "mini", "deepseek-v3", "deepseek-v2", "deepseek-v2-lite"; anything else throws.
DeepSeekConfig preset(const std::string& name);
std::vector<std::string> preset_names();

std::string to_json(const DeepSeekConfig& c);
DeepSeekConfig from_json(const std::string& text, const std::string& source = "config.json");
DeepSeekConfig load_config(const std::string& path);
void save_config(const std::string& path, const DeepSeekConfig& c);   // atomic

// Parameters: all, those one token activates, and those in the MTP modules (computed from the
// shapes, so it works for the real configs without building them).
struct ParamCount {
  int64_t total = 0, active = 0, mtp = 0;
};
ParamCount count_parameters(const DeepSeekConfig& c);

}  // namespace ds::ch06
