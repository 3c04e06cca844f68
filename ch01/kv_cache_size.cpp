#include "ch01/kv_cache_size.hpp"

#include <stdexcept>
#include <string>

#include "ch02/kv_budget.hpp"
#include "ch03/mla_model.hpp"

namespace ds::ch01 {

KvPerToken kv_elements_per_token(const DeepSeekConfig& c, int64_t gqa_groups) {
  if (gqa_groups < 1 || c.num_attention_heads % gqa_groups != 0)
    throw std::invalid_argument("the GQA group count (" + std::to_string(gqa_groups) + ") must divide num_attention_heads (" +
                                std::to_string(c.num_attention_heads) + ")");
  const ch02::AttentionShape mha{"config", c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.qk_nope_head_dim};
  KvPerToken kv;
  kv.gqa_groups = gqa_groups;
  kv.mha = ch02::kv_bytes_per_token(mha, c.num_attention_heads, 1);   // one "byte" per element: elements
  kv.gqa = ch02::kv_bytes_per_token(mha, gqa_groups, 1);
  kv.mqa = ch02::kv_bytes_per_token(mha, 1, 1);
  kv.mla = ch03::mla_cache_elements_per_token(ch03::mla_config(c)) * c.num_hidden_layers;
  return kv;
}

}  // namespace ds::ch01
