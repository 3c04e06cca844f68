#include "ch04/balance_rules.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "common/autograd.hpp"
#include "common/ops.hpp"

namespace ds::ch04 {

std::vector<double> expert_load(const IntTensor& experts, int64_t num_experts) {
  std::vector<double> load(static_cast<size_t>(num_experts), 0.0);
  for (int64_t i = 0; i < experts.numel(); ++i) load[static_cast<size_t>(experts[i])] += 1;
  return load;
}

double max_violation(const std::vector<double>& load) {
  const double mean = std::accumulate(load.begin(), load.end(), 0.0) / static_cast<double>(load.size());
  return mean > 0 ? (*std::max_element(load.begin(), load.end()) - mean) / mean : 0.0;
}

double load_entropy(const std::vector<double>& load) {
  const double total = std::accumulate(load.begin(), load.end(), 0.0);
  if (total <= 0 || load.size() < 2) return 1.0;
  double h = 0;
  for (double l : load)
    if (l > 0) h -= l / total * std::log(l / total);
  return h / std::log(static_cast<double>(load.size()));
}

Tensor balance_loss(const Routing& r, int64_t tokens_per_sequence, float alpha) {
  const int64_t n = r.scores.size(0), e = r.scores.size(1), k = r.experts.size(1), t = tokens_per_sequence;
  if (t <= 0 || n % t != 0) throw std::invalid_argument("balance_loss: the tokens do not split into sequences of " + std::to_string(t));
  // coef[t, i] = alpha * f_i(seq of t) / T / #sequences, so that sum(coef * s') is the mean over
  // sequences of alpha * sum_i f_i P_i.
  const int64_t seqs = n / t;
  Tensor coef = Tensor::zeros({n, e});
  for (int64_t q = 0; q < seqs; ++q) {
    std::vector<double> f(static_cast<size_t>(e), 0.0);
    for (int64_t i = q * t * k; i < (q + 1) * t * k; ++i) f[static_cast<size_t>(r.experts[i])] += static_cast<double>(e) / (k * t);
    for (int64_t row = q * t; row < (q + 1) * t; ++row)
      for (int64_t i = 0; i < e; ++i) coef.data()[row * e + i] = static_cast<float>(alpha * f[static_cast<size_t>(i)] / t / seqs);
  }
  const Tensor s_norm = div(r.scores, sum(r.scores, 1, true));   // s' (eq. 19); identity for softmax scores
  return sum(mul(s_norm, coef));
}

void update_bias(Gate& gate, const std::vector<double>& load, float gamma) {
  NoGradGuard ng;
  const double mean = std::accumulate(load.begin(), load.end(), 0.0) / static_cast<double>(load.size());
  float* b = gate.e_score_correction_bias.data();
  for (size_t i = 0; i < load.size(); ++i) {
    const double err = mean - load[i];
    b[i] += gamma * static_cast<float>((err > 0) - (err < 0));
  }
}

Balancing parse_balancing(const std::string& name) {
  for (Balancing b : {Balancing::None, Balancing::AuxLoss, Balancing::AuxFree, Balancing::SeqAux, Balancing::V3})
    if (balancing_name(b) == name) return b;
  throw std::invalid_argument("unknown balancing strategy '" + name + "' (choose none, aux_loss, aux_free, seq_aux or v3)");
}

std::string balancing_name(Balancing b) {
  switch (b) {
    case Balancing::None: return "none";
    case Balancing::AuxLoss: return "aux_loss";
    case Balancing::AuxFree: return "aux_free";
    case Balancing::SeqAux: return "seq_aux";
    case Balancing::V3: return "v3";
  }
  return "?";
}

}  // namespace ds::ch04
