// A small DeepSeek-style language model for this chapter's experiments: ch02's skeleton with
// ch03's MLA in every layer, dense SwiGLU feed-forwards in the first `first_k_dense_replace`
// layers (as DeepSeek-V3 keeps its first 3 dense) and the DeepSeekMoE layer in the rest.
#pragma once

#include <memory>
#include <vector>

#include "ch02/transformer.hpp"
#include "ch03/mla.hpp"
#include "ch04/moe.hpp"

namespace ds::ch04 {

struct MoEModelConfig {
  ch02::LMConfig lm;
  ch03::MLAConfig mla;
  MoEConfig moe;
  int64_t intermediate_size = 384;      // width of the dense SwiGLU layers
  int64_t first_k_dense_replace = 1;    // layers before this index are dense; num_layers: all dense
};

std::unique_ptr<ch02::TransformerLM> make_moe_model(const MoEModelConfig& cfg, Rng& rng);
// The factories make_moe_model builds its layers with (a layer index >= num_layers gets a MoE,
// as DeepSeek-V3's MTP module does).
ch02::AttentionFactory moe_model_attention(const MoEModelConfig& cfg);
ch02::FeedForwardFactory moe_model_feed_forward(const MoEModelConfig& cfg);
// The MoE layers among these modules' feed-forwards, in order (empty for an all-dense model).
std::vector<MoE*> moe_layers(ch02::TransformerLM& model);
std::vector<MoE*> moe_layers(const std::vector<ch02::Block*>& blocks);

// Parameters one token uses: all of them minus the routed experts it skips (N_r - K_r per MoE layer).
int64_t active_parameters(ch02::TransformerLM& model);

// The programs' model for a vocabulary of vocab_size: hidden 128, 4 layers (the first dense),
// MLA with latent 64, 16 routed experts of width 64 plus 1 shared, 2 routed per token, sigmoid
// scores. quick: hidden 64, 2 layers, 8 experts of width 32.
MoEModelConfig program_moe_config(int64_t vocab_size, bool quick);

}  // namespace ds::ch04
