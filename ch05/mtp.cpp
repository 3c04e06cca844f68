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

std::vector<Tensor> mtp_logits(const std::vector<std::unique_ptr<MTPModule>>& modules, const Embedding& embed,
                               const std::function<Tensor(const Tensor&)>& out_head, const Tensor& h_main, const IntTensor& ids) {
  const int64_t t = ids.size(1), d = static_cast<int64_t>(modules.size());
  if (t <= d) throw std::invalid_argument("MTP with depth " + std::to_string(d) + " needs sequences longer than that, got " + std::to_string(t));
  std::vector<Tensor> out;
  Tensor h = h_main;   // h^0: the main model's representation
  for (int64_t k = 1; k <= d; ++k) {
    MTPModule& module = *modules[static_cast<size_t>(k - 1)];
    const Tensor emb = embed.forward(columns_from(ids, k));   // Emb(t_{i+k}), i = 0..T-k-1
    h = module.forward(slice(h, 1, 0, t - k), emb);           // h^k (eqs. 21-22)
    out.push_back(out_head(module.shared_head_norm.forward(h)));   // P^k_{i+k+1} (eq. 23)
  }
  return out;
}

MTPModel::Outputs MTPModel::forward_all(const IntTensor& ids) {
  if (ids.size(1) <= depth())
    throw std::invalid_argument("MTP with depth " + std::to_string(depth()) + " needs sequences longer than that, got " + std::to_string(ids.size(1)));
  Outputs out;
  const Tensor h = main->hidden_states(ids);
  out.logits = main->logits(h);
  out.mtp = mtp_logits(mtp, main->embed_tokens, [this](const Tensor& x) { return main->logits(x); }, h, ids);
  return out;
}

MTPLoss mtp_loss(const MTPModel::Outputs& out, const IntTensor& targets, float lambda) { return mtp_loss(out.logits, out.mtp, targets, lambda); }

MTPLoss mtp_loss(const Tensor& logits, const std::vector<Tensor>& mtp_logits, const IntTensor& targets, float lambda) {
  MTPLoss l;
  l.main = cross_entropy(logits, targets);   // L_Main
  l.total = l.main;
  const auto d = static_cast<float>(mtp_logits.size());
  for (size_t k = 1; k <= mtp_logits.size(); ++k) {
    const Tensor l_k = cross_entropy(mtp_logits[k - 1], columns_from(targets, static_cast<int64_t>(k)));   // L_MTP^k, targets t_{i+k+1} (eq. 24)
    l.depth.push_back(l_k.item());
    l.total = add(l.total, mul_scalar(l_k, lambda / d));   // + lambda / D sum_k L_MTP^k (eq. 25)
  }
  return l;
}

LossFn mtp_training_loss(MTPModel& model, float lambda) {
  return [&model, lambda](const Batch& b) {
    const MTPLoss l = mtp_loss(model.forward_all(b.inputs), b.targets, lambda);
    Loss out{l.total, {}};
    out.metrics.add("main_ce", l.main.item());
    out.metrics.add("mtp_ce", l.depth.empty() ? 0.0 : l.depth[0]);
    return out;
  };
}

}  // namespace ds::ch05
