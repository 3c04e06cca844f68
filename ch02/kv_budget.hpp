// Back-of-the-envelope sizes of attention: parameters of the projections
// and KV-cache bytes per token for MHA, GQA and MQA, for the configs the book discusses.
#pragma once

#include <string>
#include <vector>

namespace ds::ch02 {

struct AttentionShape {
  std::string name;
  int64_t layers, hidden, heads, head_dim;
};

// GPT-2 small (the book's running example) and a DeepSeek-V3-sized MHA model (61 layers,
// 128 heads of 128: the "what if V3 used plain MHA" baseline of chapter 3).
std::vector<AttentionShape> attention_presets();
const AttentionShape& attention_preset(const std::string& name);   // throws with the known names

// Bytes of K and V that one token adds to the cache across all layers:
// 2 x layers x kv_heads x head_dim x bytes_per_element.
int64_t kv_bytes_per_token(const AttentionShape& s, int64_t kv_heads, int64_t bytes_per_element);
// Parameters of one layer's q, k, v and o projections (no biases).
int64_t attention_params_per_layer(const AttentionShape& s, int64_t kv_heads);

}  // namespace ds::ch02
