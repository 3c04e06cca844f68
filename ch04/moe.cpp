#include "ch04/moe.hpp"

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

Tensor MoE::forward(const Tensor& x) {
  const int64_t c = x.size(-1), n = x.numel() / c, k = cfg_.gate.num_experts_per_tok, e = cfg_.gate.n_routed_experts;
  const Tensor xf = reshape(x, {n, c});
  last_ = gate.forward(xf);
  // Which (token, slot) pairs each expert serves, in token order.
  std::vector<std::vector<int32_t>> rows(static_cast<size_t>(e)), slots(static_cast<size_t>(e));
  for (int64_t i = 0; i < n * k; ++i) {
    const auto j = static_cast<size_t>(last_.experts[i]);
    rows[j].push_back(static_cast<int32_t>(i / k));
    slots[j].push_back(static_cast<int32_t>(i));
  }
  const Tensor w_flat = reshape(last_.weights, {n * k, 1});
  std::vector<Tensor> outs;
  std::vector<int32_t> dest;
  for (int64_t j = 0; j < e; ++j) {
    const auto& r = rows[static_cast<size_t>(j)];
    if (r.empty()) continue;
    const IntTensor idx(r, {static_cast<int64_t>(r.size())});
    const Tensor y = experts[static_cast<size_t>(j)]->forward(gather_rows(xf, idx));   // one GEMM chain per expert
    const auto& s = slots[static_cast<size_t>(j)];
    outs.push_back(mul(y, gather_rows(w_flat, IntTensor(s, {static_cast<int64_t>(s.size())}))));
    dest.insert(dest.end(), r.begin(), r.end());
  }
  Tensor out = scatter_add_rows(concat(outs, 0), IntTensor(dest, {static_cast<int64_t>(dest.size())}), n);
  if (shared_experts) out = add(out, shared_experts->forward(xf));
  return reshape(out, x.shape());
}

}  // namespace ds::ch04
