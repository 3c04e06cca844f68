// The small GPT-style models ch02's programs train on the procedural corpus, so every program
// and test builds them the same way.
#pragma once

#include <memory>

#include "ch02/attention.hpp"
#include "ch02/transformer.hpp"

namespace ds::ch02 {

struct SmallModelConfig {
  int64_t vocab_size = 1024;
  int64_t hidden_size = 128;
  int64_t num_layers = 4;
  int64_t num_heads = 8;
  int64_t num_kv_heads = 8;          // MHA; fewer for GQA, 1 for MQA
  int64_t intermediate_size = 384;   // SwiGLU width
  int64_t max_position_embeddings = 512;
};

// A GPT-style decoder: learned position embeddings as GPT-2 (ch03 replaces them with rotary
// embeddings), with the RMSNorm and SwiGLU of LLaMA and DeepSeek, no biases.
std::unique_ptr<TransformerLM> make_small_model(const SmallModelConfig& cfg, Rng& rng);

// The programs' model: the defaults above, or a 2-layer, 64-wide one for --quick runs.
SmallModelConfig small_model_config(int64_t vocab_size, bool quick);

}  // namespace ds::ch02
