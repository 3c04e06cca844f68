// Attention, from the book's first single-head example to the layer real models use:
// single-head self-attention spelled out step by step, then multi-head attention whose keys and
// values may have fewer heads than its queries: MHA (as many), GQA (groups) and MQA (one).
#pragma once

#include "ch02/layers.hpp"

namespace ds::ch02 {

// Every intermediate of one head of causal self-attention on x [T, C], for printing and plots.
struct AttentionSteps {
  Tensor q, k, v;          // [T, D]
  Tensor scores;           // q k^T / sqrt(D)            [T, T]
  Tensor masked;           // scores with -inf above the diagonal
  Tensor weights;          // softmax(masked), rows sum to 1
  Tensor output;           // weights v                   [T, D]
};
AttentionSteps self_attention_steps(const Tensor& x, const Tensor& w_q, const Tensor& w_k, const Tensor& w_v);

struct AttentionConfig {
  int64_t hidden_size = 256;
  int64_t num_heads = 8;
  int64_t num_kv_heads = 8;        // = num_heads: MHA; 1: MQA; in between: GQA
  bool bias = false;               // GPT-2 has biases, LLaMA-style models do not
  float init_std = 0.02f;
  int64_t head_dim() const { return hidden_size / num_heads; }
};

// Hugging Face names: q_proj, k_proj, v_proj, o_proj.
class MultiHeadAttention : public AttentionLayer {
 public:
  MultiHeadAttention(const AttentionConfig& cfg, Rng& rng);
  Tensor forward(const Tensor& x, LayerCache* cache, const Padding* padding = nullptr) override;
  std::unique_ptr<LayerCache> make_cache(int64_t batch, int64_t max_len) const override;
  const AttentionConfig& config() const { return cfg_; }

  Linear q_proj, k_proj, v_proj, o_proj;

 private:
  AttentionConfig cfg_;
};

// x [B, T, H*D] -> [B, H, T, D] and back: the head split every attention layer does.
Tensor split_heads(const Tensor& x, int64_t heads);
Tensor merge_heads(const Tensor& x);

}  // namespace ds::ch02
