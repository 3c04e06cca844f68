#include "ch04/balance_hook.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "common/autograd.hpp"
#include "common/ops.hpp"

namespace ds::ch04 {

BalanceHook::BalanceHook(std::vector<MoE*> layers, const BalanceConfig& cfg) : layers_(std::move(layers)), cfg_(cfg) {
  for (MoE* m : layers_) {
    step_load_.emplace_back(static_cast<size_t>(m->config().gate.n_routed_experts), 0.0);
    m->attach(this);
  }
}

BalanceHook::~BalanceHook() {
  for (MoE* m : layers_) m->detach(this);
}

void BalanceHook::on_routing(const MoE& layer, const Routing& r, int64_t tokens_per_sequence, int64_t) {
  if (!grad_enabled()) return;   // evaluation or generation, not a training step
  const size_t i = static_cast<size_t>(std::find(layers_.begin(), layers_.end(), &layer) - layers_.begin());
  const std::vector<double> load = expert_load(r.experts, static_cast<int64_t>(step_load_.at(i).size()));
  for (size_t j = 0; j < load.size(); ++j) step_load_[i][j] += load[j];
  Tensor l_bal;   // alpha sum_i f_i P_i
  if (cfg_.strategy == Balancing::AuxLoss) l_bal = balance_loss(r, r.scores.size(0), cfg_.aux_alpha);
  if (cfg_.strategy == Balancing::SeqAux || cfg_.strategy == Balancing::V3) l_bal = balance_loss(r, tokens_per_sequence, cfg_.seq_alpha);
  if (l_bal.defined()) pending_loss_ = pending_loss_.defined() ? add(pending_loss_, l_bal) : l_bal;
}

Tensor BalanceHook::take_balance_loss() {
  Tensor l = pending_loss_;
  pending_loss_ = Tensor();
  return l;
}

Tensor BalanceHook::add_balance_loss(const Tensor& loss) {
  const Tensor l_bal = take_balance_loss();
  return l_bal.defined() ? add(loss, l_bal) : loss;
}

void BalanceHook::after_step(StepStats& s) {
  if (pending_loss_.defined())
    throw std::logic_error("a training forward's balance loss never reached a loss: build the loss with with_balance_loss()");
  double vio = 0;
  std::vector<std::vector<int64_t>> counts;
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::vector<double>& load = step_load_[i];
    if (cfg_.strategy == Balancing::AuxFree || cfg_.strategy == Balancing::V3) update_bias(layers_[i]->gate, load, cfg_.gamma);
    vio += max_violation(load);
    counts.emplace_back(load.begin(), load.end());
    std::fill(load.begin(), load.end(), 0.0);
  }
  s.metrics.add("maxvio", layers_.empty() ? 0.0 : vio / static_cast<double>(layers_.size()));   // MaxVio_batch
  load_history_.push_back(std::move(counts));
}

nlohmann::json BalanceHook::state() const { return {{"load", load_history_}}; }

void BalanceHook::load_state(const nlohmann::json& state) {
  load_history_ = state.at("load").get<std::vector<std::vector<std::vector<int64_t>>>>();
  for (const auto& step : load_history_)
    if (step.size() != layers_.size()) throw std::runtime_error("the saved expert loads are of another number of MoE layers");
}

std::vector<std::vector<double>> BalanceHook::load_shares(size_t layer) const {
  std::vector<std::vector<double>> out;
  for (const auto& step : load_history_) {
    const std::vector<int64_t>& load = step.at(layer);
    const double total = static_cast<double>(std::accumulate(load.begin(), load.end(), int64_t{0}));
    std::vector<double> share;
    for (int64_t l : load) share.push_back(static_cast<double>(l) / total);
    out.push_back(std::move(share));
  }
  return out;
}

LossFn with_balance_loss(LossFn loss, BalanceHook& hook) {
  return [loss = std::move(loss), &hook](const Batch& b) {
    Loss l = loss(b);
    l.value = hook.add_balance_loss(l.value);
    return l;
  };
}

LoadReport measure_load(ch02::LanguageModel& model, const std::vector<MoE*>& layers, const TokenDataset& data, int64_t batch_size,
                        int64_t seq_len, int64_t max_batches) {
  NoGradGuard ng;
  const RoutingLog log(layers);
  for (const Batch& b : data.eval_batches(Split::Val, batch_size, seq_len, max_batches)) model.forward(b.inputs);
  LoadReport rep;
  for (size_t i = 0; i < layers.size(); ++i) {
    std::vector<double> total(static_cast<size_t>(layers[i]->config().gate.n_routed_experts), 0.0);
    for (const RoutingLog::Entry& e : log.entries(i)) {
      const std::vector<double> l = expert_load(e.routing.experts, static_cast<int64_t>(total.size()));
      for (size_t j = 0; j < l.size(); ++j) total[j] += l[j];
      rep.dropped += e.dropped;
    }
    rep.maxvio_global += max_violation(total) / static_cast<double>(layers.size());
    rep.entropy += load_entropy(total) / static_cast<double>(layers.size());
    rep.load.push_back(std::move(total));
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
