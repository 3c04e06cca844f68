// The pluggable parts of a transformer block. The skeleton (transformer.hpp) only knows these
// interfaces: ch02 plugs in multi-head attention with MHA/GQA/MQA and a SwiGLU or GELU MLP,
// ch03 plugs in Multi-Head Latent Attention, ch04 plugs in a Mixture-of-Experts.
#pragma once

#include <memory>

#include "ch02/language_model.hpp"
#include "ch02/padding.hpp"

namespace ds::ch02 {

class AttentionLayer : public Module {
 public:
  // x [B, T, C] -> [B, T, C]. With a cache the T tokens sit at positions cache->length()...
  // and are appended to it; without one they are positions 0..T-1. With padding, padded keys
  // are masked and the positions are padding->position_ids.
  virtual Tensor forward(const Tensor& x, LayerCache* cache, const Padding* padding = nullptr) = 0;
  virtual std::unique_ptr<LayerCache> make_cache(int64_t batch, int64_t max_len) const = 0;
};

class FeedForwardLayer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;   // [..., C] -> [..., C]
};

// SwiGLU feed-forward (Shazeer 2020), DeepSeek's dense FFN and every expert:
// down_proj(silu(gate_proj(x)) * up_proj(x)).
class SwiGLU : public FeedForwardLayer {
 public:
  SwiGLU(int64_t hidden, int64_t intermediate, Rng& rng, float init_std = 0.02f);
  Tensor forward(const Tensor& x) override;
  Linear gate_proj, up_proj, down_proj;
};

// GPT-2's MLP: c_proj(gelu_tanh(c_fc(x))) with biases.
class GeluMLP : public FeedForwardLayer {
 public:
  GeluMLP(int64_t hidden, int64_t intermediate, Rng& rng, float init_std = 0.02f);
  Tensor forward(const Tensor& x) override;
  Linear c_fc, c_proj;
};

}  // namespace ds::ch02
