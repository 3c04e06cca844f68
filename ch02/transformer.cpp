#include "ch02/transformer.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "common/ops.hpp"
#include "common/recompute.hpp"

namespace ds::ch02 {

Block::Block(const LMConfig& cfg, std::unique_ptr<AttentionLayer> attn, std::unique_ptr<FeedForwardLayer> ffn)
    : input_layernorm(make_norm(cfg.norm, cfg.hidden_size, cfg.norm_eps)),
      post_attention_layernorm(make_norm(cfg.norm, cfg.hidden_size, cfg.norm_eps)),
      self_attn(std::move(attn)),
      mlp(std::move(ffn)) {
  register_module("input_layernorm", *input_layernorm);
  register_module("self_attn", *self_attn);
  register_module("post_attention_layernorm", *post_attention_layernorm);
  register_module("mlp", *mlp);
}

namespace {
// norm(x) in a recomputed region: its output is freed once `sublayer` has read it and comes
// back just before the sublayer's backward (DeepSeek-V3 section 3.2.3).
Tensor recomputed_norm(const NormLayer& norm, const Tensor& x, const std::function<Tensor(const Tensor&)>& sublayer, const char* name) {
  Checkpoint region([&norm](const std::vector<Tensor>& in) { return std::vector<Tensor>{norm.forward(in[0])}; }, {x}, norm.parameters(), name);
  const Tensor out = sublayer(region.output(0));
  region.discard(out);
  return out;
}
}  // namespace

Tensor Block::forward(const Tensor& x, LayerCache* cache, const Padding* padding) {
  const auto attn = [&](const Tensor& a) { return self_attn->forward(a, cache, padding); };
  const auto ffn = [&](const Tensor& a) { return mlp->forward(a); };
  if (!recompute) {
    const Tensor h = add(x, attn(input_layernorm->forward(x)));
    return add(h, ffn(post_attention_layernorm->forward(h)));
  }
  const Tensor h = add(x, recomputed_norm(*input_layernorm, x, attn, "input_layernorm"));
  return add(h, recomputed_norm(*post_attention_layernorm, h, ffn, "post_attention_layernorm"));
}

TransformerLM::Body::Body(TransformerLM& m) {
  register_module("embed_tokens", m.embed_tokens);
  if (m.embed_positions.defined()) register_parameter("embed_positions", m.embed_positions);
  for (size_t i = 0; i < m.layers.size(); ++i) register_module("layers." + std::to_string(i), *m.layers[i]);
  register_module("norm", *m.norm);
}

TransformerLM::TransformerLM(const LMConfig& cfg, const AttentionFactory& attn, const FeedForwardFactory& ffn, Rng& rng)
    : embed_tokens(cfg.vocab_size, cfg.hidden_size, rng, cfg.init_std), norm(make_norm(cfg.norm, cfg.hidden_size, cfg.norm_eps)), cfg_(cfg) {
  if (cfg.learned_positions) {
    embed_positions = Tensor::zeros({cfg.max_position_embeddings, cfg.hidden_size});
    init::normal_(embed_positions, rng, cfg.init_std);
  }
  for (int64_t i = 0; i < cfg.num_layers; ++i) layers.push_back(std::make_unique<Block>(cfg, attn(i, rng), ffn(i, rng)));
  body_ = std::make_unique<Body>(*this);
  register_module("model", *body_);
  if (!cfg.tie_word_embeddings) {
    lm_head = Tensor::zeros({cfg.vocab_size, cfg.hidden_size});
    init::normal_(lm_head, rng, cfg.init_std);
    register_parameter("lm_head.weight", lm_head);
  }
}

Tensor TransformerLM::hidden_states(const IntTensor& ids, Caches* caches, const ForwardOptions& opt) {
  if (ids.shape.size() != 2) shape_error("TransformerLM", "ids must be [B, T]", ids.shape);
  const int64_t past = caches ? cache_length(*caches) : 0, t = ids.size(1);
  if (past + t > cfg_.max_position_embeddings)
    throw std::length_error("TransformerLM: " + std::to_string(past + t) + " positions exceed max_position_embeddings = " +
                            std::to_string(cfg_.max_position_embeddings));
  if (caches && caches->size() != layers.size()) throw std::invalid_argument("TransformerLM: one cache per layer is needed");
  std::optional<Padding> padding;
  if (opt.attention_mask) {
    if (opt.attention_mask->shape != Shape{ids.size(0), past + t})
      shape_error("TransformerLM", "the attention mask must be [B, cached + new tokens]", opt.attention_mask->shape, ids.shape);
    padding = make_padding(*opt.attention_mask, t);
  }
  Tensor x = embed_tokens.forward(ids);
  if (embed_positions.defined()) x = add(x, padding ? embedding(embed_positions, padding->position_ids) : slice(embed_positions, 0, past, past + t));
  for (size_t i = 0; i < layers.size(); ++i) x = layers[i]->forward(x, caches ? (*caches)[i].get() : nullptr, padding ? &*padding : nullptr);
  return norm->forward(x);
}

Tensor TransformerLM::logits(const Tensor& hidden) const {
  return linear(hidden, lm_head.defined() ? lm_head : embed_tokens.weight);
}

Tensor TransformerLM::forward(const IntTensor& ids, Caches* caches, const ForwardOptions& opt) { return logits(hidden_states(ids, caches, opt)); }

namespace {
// rows [V, C] -> [new_vocab, C]: the old rows copied, the new ones normal(0, std).
Tensor grown(const Tensor& rows, int64_t new_vocab, Rng& rng, float std) {
  const int64_t v = rows.size(0), c = rows.size(1);
  Tensor out = Tensor::zeros({new_vocab, c});
  std::copy_n(rows.data(), v * c, out.data());
  Tensor fresh = out.rows(v, new_vocab);
  init::normal_(fresh, rng, std);
  return out.requires_grad_(rows.requires_grad());
}
}  // namespace

void TransformerLM::resize_token_embeddings(int64_t new_vocab, Rng& rng) {
  if (new_vocab < cfg_.vocab_size)
    throw std::invalid_argument("resize_token_embeddings: the vocabulary can only grow (" + std::to_string(cfg_.vocab_size) + " -> " +
                                std::to_string(new_vocab) + ")");
  embed_tokens.weight = grown(embed_tokens.weight, new_vocab, rng, cfg_.init_std);   // the registered slot now holds the new tensor
  if (lm_head.defined()) lm_head = grown(lm_head, new_vocab, rng, cfg_.init_std);
  cfg_.vocab_size = new_vocab;
}

Caches TransformerLM::make_caches(int64_t batch, int64_t max_len) const {
  Caches c;
  for (const auto& l : layers) c.push_back(l->self_attn->make_cache(batch, max_len));
  return c;
}

}  // namespace ds::ch02
