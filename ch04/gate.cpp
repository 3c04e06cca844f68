#include "ch04/gate.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "common/ops.hpp"

namespace ds::ch04 {

Gate::Gate(const GateConfig& cfg, Rng& rng) : cfg_(cfg) {
  if (cfg.n_routed_experts % cfg.n_group != 0 || cfg.topk_group > cfg.n_group || cfg.num_experts_per_tok > cfg.n_routed_experts)
    throw std::invalid_argument("gate: n_routed_experts must split into n_group groups, topk_group <= n_group and k <= experts");
  if (cfg.scoring_func != "sigmoid" && cfg.scoring_func != "softmax")
    throw std::invalid_argument("gate: scoring_func must be sigmoid or softmax, got '" + cfg.scoring_func + "'");
  weight = Tensor::zeros({cfg.n_routed_experts, cfg.hidden_size});
  init::normal_(weight, rng, cfg.init_std);
  register_parameter("weight", weight);
  e_score_correction_bias = Tensor::zeros({cfg.n_routed_experts});
  register_buffer("e_score_correction_bias", e_score_correction_bias);
}

std::vector<int32_t> select_experts(const std::vector<float>& s, const std::vector<float>& bias, const GateConfig& cfg) {
  const int64_t e = cfg.n_routed_experts, per_group = e / cfg.n_group;
  std::vector<float> biased(static_cast<size_t>(e));
  for (int64_t i = 0; i < e; ++i) biased[static_cast<size_t>(i)] = s[static_cast<size_t>(i)] + (bias.empty() ? 0.f : bias[static_cast<size_t>(i)]);
  if (cfg.n_group > 1) {
    // a group's score is the sum of its two best biased scores (V3); keep the topk_group best groups
    std::vector<float> gscore(static_cast<size_t>(cfg.n_group));
    for (int64_t g = 0; g < cfg.n_group; ++g) {
      std::vector<float> m(biased.begin() + g * per_group, biased.begin() + (g + 1) * per_group);
      std::partial_sort(m.begin(), m.begin() + std::min<int64_t>(2, per_group), m.end(), std::greater<>());
      gscore[static_cast<size_t>(g)] = m[0] + (per_group > 1 ? m[1] : 0.f);
    }
    std::vector<int32_t> order(static_cast<size_t>(cfg.n_group));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return gscore[static_cast<size_t>(a)] > gscore[static_cast<size_t>(b)]; });
    std::vector<bool> keep(static_cast<size_t>(cfg.n_group), false);
    for (int64_t g = 0; g < cfg.topk_group; ++g) keep[static_cast<size_t>(order[static_cast<size_t>(g)])] = true;
    for (int64_t i = 0; i < e; ++i)
      if (!keep[static_cast<size_t>(i / per_group)]) biased[static_cast<size_t>(i)] = -std::numeric_limits<float>::infinity();
  }
  std::vector<int32_t> ids(static_cast<size_t>(e));
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return biased[static_cast<size_t>(a)] > biased[static_cast<size_t>(b)]; });
  ids.resize(static_cast<size_t>(cfg.num_experts_per_tok));
  return ids;
}

Routing Gate::forward(const Tensor& x) const {
  const int64_t n = x.size(0), e = cfg_.n_routed_experts, k = cfg_.num_experts_per_tok;
  const Tensor logits = linear(x, weight);
  Routing r;
  r.scores = cfg_.scoring_func == "sigmoid" ? sigmoid(logits) : softmax(logits);
  const std::vector<float> bias = e_score_correction_bias.to_vector();
  std::vector<int32_t> chosen(static_cast<size_t>(n * k)), flat(static_cast<size_t>(n * k));   // flat: row n*E + e of [N*E, 1]
#pragma omp parallel for if (n > 256)
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<float> row(r.scores.data() + i * e, r.scores.data() + (i + 1) * e);
    const std::vector<int32_t> ids = select_experts(row, bias, cfg_);
    for (int64_t s = 0; s < k; ++s) {
      chosen[static_cast<size_t>(i * k + s)] = ids[static_cast<size_t>(s)];
      flat[static_cast<size_t>(i * k + s)] = static_cast<int32_t>(i * e + ids[static_cast<size_t>(s)]);
    }
  }
  r.experts = IntTensor(chosen, {n, k});
  Tensor w = reshape(gather_rows(reshape(r.scores, {n * e, 1}), IntTensor(flat, {n * k})), {n, k});   // unbiased scores
  if (cfg_.norm_topk_prob) w = div(w, sum(w, 1, true));
  r.weights = mul_scalar(w, cfg_.routed_scaling_factor);
  return r;
}

}  // namespace ds::ch04
