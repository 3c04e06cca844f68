#include "ch02/kv_budget.hpp"

#include <stdexcept>

#include "common/deepseek_config.hpp"

namespace ds::ch02 {

std::vector<AttentionShape> attention_presets() {
  const DeepSeekConfig v3 = preset("deepseek-v3");   // MHA of V3's size: heads of qk_nope_head_dim (d_h = 128)
  return {{"gpt2-small", 12, 768, 12, 64}, {"deepseek-v3-mha", v3.num_hidden_layers, v3.hidden_size, v3.num_attention_heads, v3.qk_nope_head_dim}};
}

const AttentionShape& attention_preset(const std::string& name) {
  static const std::vector<AttentionShape> presets = attention_presets();
  std::string known;
  for (const auto& p : presets) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  throw std::invalid_argument("unknown attention preset '" + name + "' (known: " + known + ")");
}

int64_t kv_bytes_per_token(const AttentionShape& s, int64_t kv_heads, int64_t bytes_per_element) {
  return 2 * s.layers * kv_heads * s.head_dim * bytes_per_element;
}

int64_t attention_params_per_layer(const AttentionShape& s, int64_t kv_heads) {
  const int64_t q = s.hidden * s.heads * s.head_dim, kv = 2 * s.hidden * kv_heads * s.head_dim, o = s.heads * s.head_dim * s.hidden;
  return q + kv + o;
}

}  // namespace ds::ch02
