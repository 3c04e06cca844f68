// The KV cache of one token across all layers of a DeepSeek configuration, for the attention
// kinds DeepSeek-V2's Table 1 compares (elements per token, l layers, d_h the per-head size):
//   MHA  2 n_h d_h l        every head keeps its key and value
//   GQA  2 n_g d_h l        n_g groups of heads share one
//   MQA  2 d_h l            all heads share one
//   MLA  (d_c + d_h^R) l    the latent c_KV and the shared RoPE key (ch03)
// The per-layer arithmetic is ch02's (kv_budget.hpp) and ch03's (mla.hpp); this file only puts
// them side by side for one config. d_h is qk_nope_head_dim (128 for V2 and V3), the head size
// V2's comparison uses.
#pragma once

#include "common/deepseek_config.hpp"

namespace ds::ch01 {

struct KvPerToken {
  int64_t gqa_groups = 0;
  int64_t mha = 0, gqa = 0, mqa = 0, mla = 0;   // elements per token, all num_hidden_layers layers
};
// gqa_groups must divide num_attention_heads (std::invalid_argument otherwise).
KvPerToken kv_elements_per_token(const DeepSeekConfig& c, int64_t gqa_groups);

}  // namespace ds::ch01
