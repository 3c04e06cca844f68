#include "ch04/balancer.hpp"

#include <algorithm>
#include <numeric>

#include "ch02/train.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"

namespace ds::ch04 {

Balancer::Balancer(std::vector<MoE*> layers, const BalanceConfig& cfg) : layers_(std::move(layers)), cfg_(cfg) {}

Tensor Balancer::loss(ch02::LanguageModel& model, const Batch& batch) {
  const Tensor l = ch02::next_token_loss(model, batch);
  const Tensor bal = terms(batch.inputs.size(0));
  return bal.defined() ? add(l, bal) : l;
}

Tensor Balancer::terms(int64_t batch_size) {
  if (!grad_enabled()) return Tensor();
  step_load_.clear();
  Tensor bal;
  for (MoE* m : layers_) {
    const Routing& r = m->last_routing();
    step_load_.push_back(expert_load(r.experts, m->config().gate.n_routed_experts));
    Tensor term;
    if (cfg_.strategy == Balancing::AuxLoss) term = balance_loss(r, r.scores.size(0), cfg_.aux_alpha);
    if (cfg_.strategy == Balancing::SeqAux || cfg_.strategy == Balancing::V3) term = balance_loss(r, r.scores.size(0) / batch_size, cfg_.seq_alpha);
    if (term.defined()) bal = bal.defined() ? add(bal, term) : term;
  }
  step_balance_loss_ = bal.defined() ? bal.item() : 0.0;
  return bal;
}

void Balancer::after_step() {
  double vio = 0;
  std::vector<std::vector<double>> shares;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::vector<double>& load = step_load_.at(i);
    if (cfg_.strategy == Balancing::AuxFree || cfg_.strategy == Balancing::V3) update_bias(layers_[i]->gate, load, cfg_.gamma);
    vio += max_violation(load);
    const double total = std::accumulate(load.begin(), load.end(), 0.0);
    std::vector<double> share(load);
    for (double& s : share) s /= total;
    shares.push_back(std::move(share));
  }
  maxvio_batch_.push_back(layers_.empty() ? 0.0 : vio / static_cast<double>(layers_.size()));
  balance_loss_.push_back(step_balance_loss_);
  history_.push_back(std::move(shares));
}

LoadReport measure_load(ch02::LanguageModel& model, const std::vector<MoE*>& layers, const TokenDataset& data, int64_t batch_size,
                        int64_t seq_len, int64_t max_batches) {
  NoGradGuard ng;
  LoadReport rep;
  for (MoE* m : layers) rep.load.emplace_back(static_cast<size_t>(m->config().gate.n_routed_experts), 0.0);
  for (const Batch& b : data.eval_batches(Split::Val, batch_size, seq_len, max_batches)) {
    model.forward(b.inputs);
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::vector<double> l = expert_load(layers[i]->last_routing().experts, static_cast<int64_t>(rep.load[i].size()));
      for (size_t j = 0; j < l.size(); ++j) rep.load[i][j] += l[j];
      rep.dropped += layers[i]->last_dropped();
    }
  }
  for (const auto& l : rep.load) {
    rep.maxvio_global += max_violation(l) / static_cast<double>(layers.size());
    rep.entropy += load_entropy(l) / static_cast<double>(layers.size());
  }
  return rep;
}

Heatmap load_heatmap(const std::vector<std::vector<double>>& shares, const std::string& title) {
  const size_t steps = shares.size(), e = shares.empty() ? 0 : shares[0].size(), stride = std::max<size_t>(1, steps / 120);
  Heatmap h;
  h.title = title;
  h.xlabel = "training step";
  h.ylabel = "routed expert";
  h.rows = static_cast<int64_t>(e);
  std::vector<size_t> cols;
  for (size_t s = 0; s < steps; s += stride) cols.push_back(s);
  h.cols = static_cast<int64_t>(cols.size());
  for (size_t i = 0; i < e; ++i) {
    h.row_labels.push_back(std::to_string(i));
    for (size_t s : cols) h.values.push_back(shares[s][i]);
  }
  for (size_t s : cols) h.col_labels.push_back(std::to_string(s + 1));
  h.height = 420;
  return h;
}

}  // namespace ds::ch04
