// Multi-token prediction as DeepSeek-V3 defines it (section 2.2, eqs. 21-25): D sequential
// modules after the main model. Module k, at position i, combines the previous depth's hidden
// state h_i^{k-1} with the embedding of token t_{i+k}:
//   h'_i^k = eh_proj([enorm(Emb(t_{i+k})); hnorm(h_i^{k-1})])      (eq. 21; embedding first, as
//                                                                     V3's checkpoint stores eh_proj)
//   h_i^k  = Block_k(h'_{1..T-k}^k)                                  (eq. 22, causal over i)
//   P_{i+k+1}^k = OutHead(shared_head.norm(h_i^k))                    (eq. 23: predicts t_{i+k+1})
// The embedding and the output head are the main model's, shared. Training adds
// L_MTP = (lambda / D) sum_k CE_k (eqs. 24-25); at inference the modules can be dropped, or
// module 1 drafts the token after next for self-speculative decoding (speculative.hpp).
#pragma once

#include <memory>
#include <vector>

#include "ch02/transformer.hpp"

namespace ds::ch05 {

// One MTP depth: a transformer block (so it has the block's names: input_layernorm, self_attn,
// post_attention_layernorm, mlp) plus enorm, hnorm, eh_proj and shared_head.norm.
class MTPModule : public ch02::Block {
 public:
  MTPModule(const ch02::LMConfig& lm, std::unique_ptr<ch02::AttentionLayer> attn, std::unique_ptr<ch02::FeedForwardLayer> ffn, Rng& rng);
  // h_prev [B, T, C]: h_i^{k-1}; emb [B, T, C]: Emb(t_{i+k}) at the same positions i. With a
  // cache the T positions continue it. Returns h^k [B, T, C], the block's output (the next
  // depth's h_prev; the head reads shared_head_norm(h^k)).
  Tensor forward(const Tensor& h_prev, const Tensor& emb, ch02::LayerCache* cache = nullptr);
  RMSNorm enorm, hnorm;
  Linear eh_proj;              // [C, 2C]
  RMSNorm shared_head_norm;
};

// The main model plus its D MTP modules. As a LanguageModel it is the main model (forward gives
// the main head's logits), so generation ignores the modules; its parameters and names include
// them, registered as DeepSeek-V3 does: module k is layer num_layers + k - 1.
class MTPModel : public ch02::LanguageModel {
 public:
  // attn/ffn build each module's block; they are called with layer index num_layers + k - 1.
  MTPModel(std::unique_ptr<ch02::TransformerLM> main, int64_t depth, const ch02::AttentionFactory& attn,
           const ch02::FeedForwardFactory& ffn, Rng& rng);

  struct Outputs {
    Tensor logits;                  // main head [B, T, V]: position i predicts t_{i+1}
    std::vector<Tensor> mtp;        // depth k (index k-1): [B, T-k, V], position i predicts t_{i+k+1}
  };
  // ids [B, T]: t_0..t_{T-1}. Depth k needs Emb(t_{i+k}), so it covers positions 0..T-k-1.
  Outputs forward_all(const IntTensor& ids);

  Tensor forward(const IntTensor& ids, ch02::Caches* caches = nullptr, const ch02::ForwardOptions& opt = {}) override {
    return main->forward(ids, caches, opt);
  }
  ch02::Caches make_caches(int64_t batch, int64_t max_len) const override { return main->make_caches(batch, max_len); }
  int64_t vocab_size() const override { return main->vocab_size(); }
  int64_t max_positions() const override { return main->max_positions(); }
  int64_t depth() const { return static_cast<int64_t>(mtp.size()); }

  std::unique_ptr<ch02::TransformerLM> main;
  std::vector<std::unique_ptr<MTPModule>> mtp;
};

struct MTPLoss {
  Tensor total;                 // main CE + (lambda / D) sum_k CE_k: what training minimises
  Tensor main;                  // the main head's cross-entropy alone (comparable across runs)
  std::vector<double> depth;    // CE_k of each depth
};
// targets [B, T] are the next tokens of ids (targets[i] = t_{i+1}); depth k's targets are
// targets[:, k:] (t_{i+k+1}).
MTPLoss mtp_loss(const MTPModel::Outputs& out, const IntTensor& targets, float lambda);

}  // namespace ds::ch05
