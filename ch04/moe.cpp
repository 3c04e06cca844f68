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
std::vector<std::vector<int32_t>> plan_dispatch(const Routing& r, int64_t n, int64_t k, int64_t e, float capacity_factor,
                                                int64_t& dropped) {
  std::vector<std::vector<int32_t>> slots(static_cast<size_t>(e));
  for (int64_t i = 0; i < n * k; ++i) slots[static_cast<size_t>(r.experts[i])].push_back(static_cast<int32_t>(i));
  dropped = 0;
  if (capacity_factor <= 0) return slots;
  const auto cap = static_cast<size_t>(std::ceil(capacity_factor * static_cast<double>(n * k) / static_cast<double>(e)));
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
  const int64_t c = x.size(-1), n = x.numel() / c, k = cfg_.gate.num_experts_per_tok, e = cfg_.gate.n_routed_experts;
  const Tensor xf = reshape(x, {n, c});
  last_ = gate.forward(xf);
  const auto slots = plan_dispatch(last_, n, k, e, cfg_.capacity_factor, dropped_);
  Tensor out = routed_experts(xf, reshape(last_.weights, {n * k}), k, slots, expert_weights());
  if (shared_experts) out = add(out, shared_experts->forward(xf));
  return reshape(out, x.shape());
}

}  // namespace ds::ch04
