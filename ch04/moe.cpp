#include "ch04/moe.hpp"

#include <algorithm>
#include <cmath>

#include "common/ops.hpp"

namespace ds::ch04 {

MoE::MoE(const MoEConfig& cfg, Rng& rng) : gate(cfg.gate, rng), cfg_(cfg) {
  const int64_t c = cfg.gate.hidden_size;
  register_module("gate", gate);
  for (int64_t j = 0; j < cfg.gate.n_routed_experts; ++j) {
    experts.push_back(std::make_unique<ch02::SwiGLU>(c, cfg.moe_intermediate_size, rng, cfg.gate.init_std));
    register_module("experts." + std::to_string(j), *experts.back());
  }
  if (cfg.n_shared_experts > 0) {
    shared_experts = std::make_unique<ch02::SwiGLU>(c, cfg.n_shared_experts * cfg.moe_intermediate_size, rng, cfg.gate.init_std);
    register_module("shared_experts", *shared_experts);
  }
}

namespace {
// For each expert, the slots (token * k + s, indexing the routing's [N, k] tables) it serves, in
// token order; with a capacity factor an overloaded expert keeps its largest-weight slots.
std::vector<std::vector<int32_t>> plan_dispatch(const Routing& r, float capacity_factor, int64_t& dropped) {
  const int64_t slots_total = r.experts.numel(), e = r.scores.size(1);
  std::vector<std::vector<int32_t>> slots(static_cast<size_t>(e));
  for (int32_t i = 0; i < slots_total; ++i) slots[static_cast<size_t>(r.experts[i])].push_back(i);
  dropped = 0;
  if (capacity_factor <= 0) return slots;
  const auto cap = static_cast<size_t>(std::ceil(capacity_factor * static_cast<double>(slots_total) / static_cast<double>(e)));
  const float* w = r.weights.data();
  for (auto& s : slots) {
    if (s.size() <= cap) continue;
    dropped += static_cast<int64_t>(s.size() - cap);
    std::stable_sort(s.begin(), s.end(), [&](int32_t a, int32_t b) { return w[a] > w[b]; });
    s.resize(cap);
    std::sort(s.begin(), s.end());
  }
  return slots;
}
}  // namespace

ExpertWeights MoE::expert_weights() const {
  ExpertWeights w;
  for (const auto& ex : experts) {
    w.gate_proj.push_back(ex->gate_proj.weight);
    w.up_proj.push_back(ex->up_proj.weight);
    w.down_proj.push_back(ex->down_proj.weight);
  }
  return w;
}

Tensor MoE::forward(const Tensor& x) {
  const int64_t c = x.size(-1), n = x.numel() / c, k = cfg_.gate.num_experts_per_tok;
  const Tensor u = reshape(x, {n, c});   // u_t, one token per row
  const Routing r = gate.forward(u);     // g_{i,t} (eqs. 13-16)
  int64_t dropped = 0;
  const auto slots = plan_dispatch(r, cfg_.capacity_factor, dropped);
  // sum_i g_{i,t} FFN_i^(r)(u_t): expert parallelism installs routed_experts_fn; the fused op
  // computes in float32 only, so while a LinearOverride (FP8 autocast) is installed the experts
  // run as the composition of overridable linears.
  const auto experts_op = LinearOverride::current() ? routed_experts_reference : routed_experts;
  Tensor h = routed_experts_fn ? routed_experts_fn(u, r) : experts_op(u, reshape(r.weights, {n * k}), k, slots, expert_weights());
  if (shared_experts) h = add(h, shared_experts->forward(u));                              // + sum_i FFN_i^(s)(u_t)
  const int64_t tokens_per_sequence = x.dim() >= 3 ? x.size(-2) : n;
  for (RoutingObserver* o : observers_) o->on_routing(*this, r, tokens_per_sequence, dropped);
  return reshape(h, x.shape());
}

void MoE::attach(RoutingObserver* observer) { observers_.push_back(observer); }

void MoE::detach(RoutingObserver* observer) { std::erase(observers_, observer); }

RoutingLog::RoutingLog(std::vector<MoE*> layers) : layers_(std::move(layers)), entries_(layers_.size()) {
  for (MoE* m : layers_) m->attach(this);
}

RoutingLog::~RoutingLog() {
  for (MoE* m : layers_) m->detach(this);
}

void RoutingLog::on_routing(const MoE& layer, const Routing& r, int64_t tokens_per_sequence, int64_t dropped) {
  for (size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i] == &layer) entries_[i].push_back({r, tokens_per_sequence, dropped});
}

}  // namespace ds::ch04
