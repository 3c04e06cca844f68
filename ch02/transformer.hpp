// The model skeleton every chapter builds on: token embedding (plus learned positions for
// GPT-2), a stack of pre-norm blocks  x = x + attn(norm(x));  x = x + ffn(norm(x)),  a final
// norm and an output head. Attention and feed-forward come from factories, so ch03 plugs in
// MLA and ch04 a Mixture-of-Experts without copying the skeleton.
// Names follow Hugging Face's LLaMA/DeepSeek layout: model.embed_tokens, model.layers.{i}.
// {input_layernorm, self_attn, post_attention_layernorm, mlp}, model.norm, lm_head.
#pragma once

#include <functional>

#include "ch02/layers.hpp"

namespace ds::ch02 {

struct LMConfig {
  int64_t vocab_size = 1024;
  int64_t hidden_size = 128;
  int64_t num_layers = 2;
  int64_t max_position_embeddings = 256;
  NormKind norm = NormKind::RMSNorm;
  float norm_eps = 1e-6f;
  bool learned_positions = false;      // GPT-2: a trained position table added to the embeddings
  bool tie_word_embeddings = false;    // GPT-2: the head reuses the token embedding
  float init_std = 0.02f;
};

using AttentionFactory = std::function<std::unique_ptr<AttentionLayer>(int64_t layer, Rng& rng)>;
using FeedForwardFactory = std::function<std::unique_ptr<FeedForwardLayer>(int64_t layer, Rng& rng)>;

class Block : public Module {
 public:
  Block(const LMConfig& cfg, std::unique_ptr<AttentionLayer> attn, std::unique_ptr<FeedForwardLayer> ffn);
  Tensor forward(const Tensor& x, LayerCache* cache, const Padding* padding = nullptr);   // [B, T, C] -> [B, T, C]
  std::unique_ptr<NormLayer> input_layernorm, post_attention_layernorm;
  std::unique_ptr<AttentionLayer> self_attn;
  std::unique_ptr<FeedForwardLayer> mlp;
  // Training memory, not architecture (so not in config.json): the two norms' outputs are not
  // kept for backward but recomputed there (DeepSeek-V3 section 3.2.3; common/recompute.hpp).
  bool recompute = false;
};

class TransformerLM : public LanguageModel {
 public:
  TransformerLM(const LMConfig& cfg, const AttentionFactory& attn, const FeedForwardFactory& ffn, Rng& rng);

  Tensor forward(const IntTensor& ids, Caches* caches = nullptr, const ForwardOptions& opt = {}) override;   // -> logits [B, T, V]
  // The final hidden states [B, T, C] after model.norm (what the head reads).
  Tensor hidden_states(const IntTensor& ids, Caches* caches = nullptr, const ForwardOptions& opt = {});
  Tensor logits(const Tensor& hidden) const;                                 // [B, T, C] -> [B, T, V]
  Caches make_caches(int64_t batch, int64_t max_len) const override;
  int64_t vocab_size() const override { return cfg_.vocab_size; }
  int64_t max_positions() const override { return cfg_.max_position_embeddings; }
  const LMConfig& config() const { return cfg_; }
  // Grows the vocabulary to new_vocab (Hugging Face's resize_token_embeddings): embed_tokens and
  // lm_head keep their rows bit for bit and gain new ones drawn as at construction (normal,
  // init_std). New tensors replace the old, so build optimizers afterwards.
  void resize_token_embeddings(int64_t new_vocab, Rng& rng);

  Embedding embed_tokens;
  Tensor embed_positions;   // [max_positions, C] when learned_positions
  std::vector<std::unique_ptr<Block>> layers;
  std::unique_ptr<NormLayer> norm;
  Tensor lm_head;           // [V, C], undefined when tied

 private:
  // Registers under "model." like Hugging Face; lm_head sits beside it at the top level.
  struct Body : Module {
    explicit Body(TransformerLM& m);
  };
  LMConfig cfg_;
  std::unique_ptr<Body> body_;
};

}  // namespace ds::ch02
