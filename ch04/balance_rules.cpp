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

namespace {
// f_i = N_r / (K_r T) * #{t in the sequence : t chose i}, one row per sequence (eq. 18); counted,
// so no gradient flows through it.
Tensor expert_fractions(const IntTensor& experts, int64_t sequences, int64_t T, int64_t n_r) {
  const int64_t k_r = experts.size(1);
  Tensor f = Tensor::zeros({sequences, n_r});
  float* pf = f.data();
  for (int64_t q = 0; q < sequences; ++q)
    for (int64_t slot = q * T * k_r; slot < (q + 1) * T * k_r; ++slot) pf[q * n_r + experts[slot]] += 1.f;
  const float scale = static_cast<float>(n_r) / static_cast<float>(k_r * T);
  for (int64_t i = 0; i < f.numel(); ++i) pf[i] *= scale;
  return f;
}
}  // namespace

Tensor balance_loss(const Routing& r, int64_t T, float alpha) {
  const int64_t n = r.scores.size(0), n_r = r.scores.size(1);
  if (T <= 0 || n % T != 0) throw std::invalid_argument("balance_loss: the tokens do not split into sequences of " + std::to_string(T));
  const int64_t sequences = n / T;
  const Tensor s_prime = div(r.scores, sum(r.scores, 1, true));          // eq. 19 (softmax scores already sum to 1)
  const Tensor P = mean(reshape(s_prime, {sequences, T, n_r}), 1);       // eq. 20: [sequences, N_r]
  const Tensor f = expert_fractions(r.experts, sequences, T, n_r);       // eq. 18: [sequences, N_r]
  return mul_scalar(mean(sum(mul(f, P), 1)), alpha);                     // eq. 17, averaged over the sequences
}

void update_bias(Gate& gate, const std::vector<double>& load, float gamma) {
  if (!gate.has_bias())
    throw std::invalid_argument("auxiliary-loss-free balancing moves e_score_correction_bias, which only topk_method noaux_tc has (this gate uses " +
                                gate.config().topk_method + ")");
  NoGradGuard ng;
  const double mean_load = std::accumulate(load.begin(), load.end(), 0.0) / static_cast<double>(load.size());
  float* b = gate.e_score_correction_bias.data();
  for (size_t i = 0; i < load.size(); ++i) {
    const double err = mean_load - load[i];
    b[i] += gamma * static_cast<float>((err > 0) - (err < 0));   // b_i += gamma * sign(mean load - Load_i)
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
