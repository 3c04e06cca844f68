#include "ch04/gate.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "common/ops.hpp"

namespace ds::ch04 {

std::string GateConfig::validate() const {
  if (scoring_func != "sigmoid" && scoring_func != "softmax") return "scoring_func must be sigmoid or softmax, not '" + scoring_func + "'";
  if (topk_method != "greedy" && topk_method != "group_limited_greedy" && topk_method != "noaux_tc")
    return "topk_method must be greedy (V2-Lite), group_limited_greedy (V2) or noaux_tc (V3), not '" + topk_method + "'";
  if (n_group < 1 || n_routed_experts % n_group != 0) return "n_routed_experts must split into n_group equal groups";
  if (topk_group < 1 || topk_group > n_group) return "topk_group must be between 1 and n_group";
  if (num_experts_per_tok < 1 || num_experts_per_tok > n_routed_experts / n_group * topk_group)
    return "num_experts_per_tok must be between 1 and the number of experts in topk_group groups";
  return "";
}

Gate::Gate(const GateConfig& cfg, Rng& rng) : cfg_(cfg) {
  if (const std::string bad = cfg.validate(); !bad.empty()) throw std::invalid_argument("gate: " + bad);
  weight = Tensor::zeros({cfg.n_routed_experts, cfg.hidden_size});
  init::normal_(weight, rng, cfg.init_std);
  register_parameter("weight", weight);
  if (has_bias()) {
    e_score_correction_bias = Tensor::zeros({cfg.n_routed_experts});
    register_buffer("e_score_correction_bias", e_score_correction_bias);
  }
}

namespace {
// The indices of v's k largest values, largest first (ties: the lower index first).
std::vector<int32_t> topk_indices(std::span<const float> v, int64_t k) {
  std::vector<int32_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(k);
  return idx;
}

// model.py: scores.amax(-1) without a bias, scores.topk(2).sum(-1) with one.
float group_score(std::span<const float> group, const std::string& topk_method) {
  if (topk_method == "group_limited_greedy") return *std::max_element(group.begin(), group.end());
  const std::vector<int32_t> best = topk_indices(group, std::min<int64_t>(2, group.size()));
  return group[best[0]] + (best.size() > 1 ? group[best[1]] : 0.f);
}
}  // namespace

namespace {
// Hugging Face's scores_for_choice (s + b with noaux_tc) with the experts of groups outside the
// topk_group best set to -inf; the group scores into *groups when asked.
std::vector<float> eligible_choice(std::span<const float> s, std::span<const float> bias, const GateConfig& cfg, std::vector<float>* groups) {
  std::vector<float> choice(s.begin(), s.end());
  if (cfg.topk_method == "noaux_tc" && !bias.empty())
    for (size_t i = 0; i < choice.size(); ++i) choice[i] += bias[i];
  if (cfg.topk_method != "greedy" && cfg.n_group > 1) {
    const int64_t per_group = cfg.n_routed_experts / cfg.n_group;
    std::vector<float> group_scores(cfg.n_group);
    for (int64_t g = 0; g < cfg.n_group; ++g) group_scores[g] = group_score(std::span(choice).subspan(g * per_group, per_group), cfg.topk_method);
    std::vector<bool> eligible(cfg.n_group, false);
    for (int32_t g : topk_indices(group_scores, cfg.topk_group)) eligible[g] = true;
    for (int64_t i = 0; i < cfg.n_routed_experts; ++i)
      if (!eligible[i / per_group]) choice[i] = -std::numeric_limits<float>::infinity();
    if (groups) *groups = std::move(group_scores);
  }
  return choice;
}

// The k-th largest of v minus the (k+1)-th: how far a top-k choice over v is from a tie (+inf
// when nothing is left out, or what is left out is -inf).
float topk_gap(std::vector<float> v, int64_t k) {
  if (k >= static_cast<int64_t>(v.size())) return std::numeric_limits<float>::infinity();
  std::sort(v.begin(), v.end(), std::greater<float>());
  return v[static_cast<size_t>(k) - 1] - v[static_cast<size_t>(k)];
}
}  // namespace

std::vector<int32_t> select_experts(std::span<const float> s, std::span<const float> bias, const GateConfig& cfg) {
  return topk_indices(eligible_choice(s, bias, cfg, nullptr), cfg.num_experts_per_tok);
}

float selection_margin(std::span<const float> s, std::span<const float> bias, const GateConfig& cfg) {
  std::vector<float> groups;
  const std::vector<float> choice = eligible_choice(s, bias, cfg, &groups);
  const float group_gap = groups.empty() ? std::numeric_limits<float>::infinity() : topk_gap(groups, cfg.topk_group);
  return std::min(group_gap, topk_gap(choice, cfg.num_experts_per_tok));
}

Routing Gate::forward(const Tensor& x) const {
  const int64_t n = x.size(0), e = cfg_.n_routed_experts, k = cfg_.num_experts_per_tok;
  Routing r;
  const Tensor logits = linear(x, weight);
  r.scores = cfg_.scoring_func == "sigmoid" ? sigmoid(logits) : softmax(logits);   // eq. 15 (V2: softmax)
  const std::vector<float> bias = has_bias() ? e_score_correction_bias.to_vector() : std::vector<float>{};
  std::vector<int32_t> experts(n * k), picked(n * k);   // picked: the chosen scores' rows in scores viewed as [N * E, 1]
#pragma omp parallel for if (n > 256)
  for (int64_t t = 0; t < n; ++t) {
    const std::vector<int32_t> ids = select_experts({r.scores.data() + t * e, static_cast<size_t>(e)}, bias, cfg_);
    for (int64_t j = 0; j < k; ++j) {
      experts[t * k + j] = ids[j];
      picked[t * k + j] = static_cast<int32_t>(t * e + ids[j]);
    }
  }
  r.experts = IntTensor(experts, {n, k});
  Tensor g = reshape(gather_rows(reshape(r.scores, {n * e, 1}), IntTensor(picked, {n * k})), {n, k});   // g': unbiased s (eqs. 14, 16)
  if (cfg_.norm_topk_prob) g = div(g, sum(g, 1, true));                                                 // eq. 13
  r.weights = mul_scalar(g, cfg_.routed_scaling_factor);
  return r;
}

}  // namespace ds::ch04
