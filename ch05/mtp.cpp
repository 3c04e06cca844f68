#include "ch05/mtp.hpp"

#include <stdexcept>
#include <string>

#include "common/ops.hpp"

namespace ds::ch05 {

namespace {
// Columns [start, T) of ids [B, T].
IntTensor columns_from(const IntTensor& ids, int64_t start) {
  const int64_t b = ids.size(0), t = ids.size(1);
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(b * (t - start)));
  for (int64_t r = 0; r < b; ++r) out.insert(out.end(), ids.data.begin() + r * t + start, ids.data.begin() + (r + 1) * t);
  return IntTensor(out, {b, t - start});
}
}  // namespace

MTPModule::MTPModule(const ch02::LMConfig& lm, std::unique_ptr<ch02::AttentionLayer> attn, std::unique_ptr<ch02::FeedForwardLayer> ffn,
                     Rng& rng)
    : ch02::Block(lm, std::move(attn), std::move(ffn)),
      enorm(lm.hidden_size, lm.norm_eps),
      hnorm(lm.hidden_size, lm.norm_eps),
      eh_proj(2 * lm.hidden_size, lm.hidden_size, rng, lm.init_std),
      shared_head_norm(lm.hidden_size, lm.norm_eps) {
  register_module("enorm", enorm);
  register_module("hnorm", hnorm);
  register_module("eh_proj", eh_proj);
  register_module("shared_head.norm", shared_head_norm);
}

Tensor MTPModule::forward(const Tensor& h_prev, const Tensor& emb, ch02::LayerCache* cache) {
  const Tensor merged = eh_proj.forward(concat({enorm.forward(emb), hnorm.forward(h_prev)}, -1));   // eq. 21
  return ch02::Block::forward(merged, cache);                                                        // eq. 22
}

MTPModel::MTPModel(std::unique_ptr<ch02::TransformerLM> main_model, int64_t depth, const ch02::AttentionFactory& attn,
                   const ch02::FeedForwardFactory& ffn, Rng& rng)
    : main(std::move(main_model)) {
  register_module("", *main);
  const int64_t layers = main->config().num_layers;
  for (int64_t k = 1; k <= depth; ++k) {
    const int64_t index = layers + k - 1;
    mtp.push_back(std::make_unique<MTPModule>(main->config(), attn(index, rng), ffn(index, rng), rng));
    register_module("model.layers." + std::to_string(index), *mtp.back());
  }
}

MTPModel::Outputs MTPModel::forward_all(const IntTensor& ids) {
  const int64_t t = ids.size(1);
  if (t <= depth()) throw std::invalid_argument("MTP with depth " + std::to_string(depth()) + " needs sequences longer than that, got " + std::to_string(t));
  Outputs out;
  Tensor h = main->hidden_states(ids);
  out.logits = main->logits(h);
  for (int64_t k = 1; k <= depth(); ++k) {
    const Tensor emb = main->embed_tokens.forward(columns_from(ids, k));   // Emb(t_{i+k}), i = 0..T-k-1
    h = mtp[static_cast<size_t>(k - 1)]->forward(slice(h, 1, 0, t - k), emb);
    out.mtp.push_back(main->logits(mtp[static_cast<size_t>(k - 1)]->shared_head_norm.forward(h)));   // eq. 23
  }
  return out;
}

MTPLoss mtp_loss(const MTPModel::Outputs& out, const IntTensor& targets, float lambda) {
  MTPLoss l;
  l.main = cross_entropy(out.logits, targets);
  l.total = l.main;
  const auto d = static_cast<float>(out.mtp.size());
  for (size_t k = 1; k <= out.mtp.size(); ++k) {
    const Tensor ce = cross_entropy(out.mtp[k - 1], columns_from(targets, static_cast<int64_t>(k)));   // t_{i+k+1}
    l.depth.push_back(ce.item());
    l.total = add(l.total, mul_scalar(ce, lambda / d));   // eq. 25
  }
  return l;
}

}  // namespace ds::ch05
