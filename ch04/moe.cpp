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
// For each expert, the (token, slot) pairs it serves in token order; slot = token * k + s indexes
// the routing's [N, k] tables.
struct Dispatch {
  std::vector<std::vector<int32_t>> tokens, slots;
  int64_t dropped = 0;
};

Dispatch plan_dispatch(const Routing& r, int64_t n, int64_t k, int64_t e, float capacity_factor) {
  Dispatch d{std::vector<std::vector<int32_t>>(static_cast<size_t>(e)), std::vector<std::vector<int32_t>>(static_cast<size_t>(e))};
  for (int64_t i = 0; i < n * k; ++i) d.slots[static_cast<size_t>(r.experts[i])].push_back(static_cast<int32_t>(i));
  if (capacity_factor > 0) {
    const auto cap = static_cast<size_t>(std::ceil(capacity_factor * static_cast<double>(n * k) / static_cast<double>(e)));
    const float* w = r.weights.data();
    for (auto& s : d.slots) {
      if (s.size() <= cap) continue;
      d.dropped += static_cast<int64_t>(s.size() - cap);
      std::stable_sort(s.begin(), s.end(), [&](int32_t a, int32_t b) { return w[a] > w[b]; });   // keep the strongest
      s.resize(cap);
      std::sort(s.begin(), s.end());
    }
  }
  for (size_t j = 0; j < d.slots.size(); ++j)
    for (int32_t s : d.slots[j]) d.tokens[j].push_back(static_cast<int32_t>(s / k));
  return d;
}
}  // namespace

Tensor MoE::forward(const Tensor& x) {
  const int64_t c = x.size(-1), n = x.numel() / c, k = cfg_.gate.num_experts_per_tok, e = cfg_.gate.n_routed_experts;
  const Tensor xf = reshape(x, {n, c});
  last_ = gate.forward(xf);
  const Dispatch d = plan_dispatch(last_, n, k, e, cfg_.capacity_factor);
  dropped_ = d.dropped;
  const Tensor w_flat = reshape(last_.weights, {n * k, 1});
  std::vector<Tensor> outs;
  std::vector<int32_t> dest;
  for (int64_t j = 0; j < e; ++j) {
    const auto& t = d.tokens[static_cast<size_t>(j)];
    const auto& s = d.slots[static_cast<size_t>(j)];
    if (t.empty()) continue;
    const auto m = static_cast<int64_t>(t.size());
    const Tensor y = experts[static_cast<size_t>(j)]->forward(gather_rows(xf, IntTensor(t, {m})));   // one GEMM chain per expert
    outs.push_back(mul(y, gather_rows(w_flat, IntTensor(s, {m}))));
    dest.insert(dest.end(), t.begin(), t.end());
  }
  Tensor out = outs.empty() ? Tensor::zeros({n, c})
                            : scatter_add_rows(concat(outs, 0), IntTensor(dest, {static_cast<int64_t>(dest.size())}), n);
  if (shared_experts) out = add(out, shared_experts->forward(xf));
  return reshape(out, x.shape());
}

}  // namespace ds::ch04
