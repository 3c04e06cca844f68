// Hugging Face GPT-2 checkpoints on ch02's skeleton, so the book's listings 2.1 and 2.2 run on
// the real weights. GPT-2 differs from the LLaMA-style defaults in ways the skeleton already
// allows: LayerNorm instead of RMSNorm, learned position embeddings (wpe), biases everywhere,
// a tanh-approximated GELU MLP, and an output head tied to the token embedding (wte).
// Its checkpoint stores Conv1D weights as [in, out] (Linear's transpose) and fuses the q, k, v
// projections into one c_attn; the loader transposes and splits them.
#pragma once

#include <memory>
#include <string>

#include "ch02/transformer.hpp"
#include "common/tokenizer.hpp"

namespace ds::ch02 {

struct GPT2 {
  std::unique_ptr<TransformerLM> model;
  Tokenizer tokenizer;
};

// dir holds config.json, model.safetensors, vocab.json and merges.txt (as downloaded from the
// Hugging Face hub). Any missing file, unknown or missing tensor, or wrong shape is one
// std::runtime_error sentence naming the file and the tensor.
GPT2 load_gpt2(const std::string& dir);

}  // namespace ds::ch02
