// Load balancing of the routed experts: the metrics that say how uneven the load is, the two
// balance losses, and the auxiliary-loss-free bias rule DeepSeek-V3 trains with.
//
// Notation (V3 eqs. 17-20): N_r routed experts, K_r chosen per token, T tokens, s_{i,t} the
// gate's affinity of token t for expert i, s'_{i,t} = s_{i,t} / sum_j s_{j,t}.
#pragma once

#include <string>
#include <vector>

#include "ch04/gate.hpp"

namespace ds::ch04 {

// Load_i: how many (token, slot) pairs chose expert i.
std::vector<double> expert_load(const IntTensor& experts, int64_t num_experts);
// MaxVio = (max_i Load_i - mean_i Load_i) / mean_i Load_i (Wang et al. 2024, "Auxiliary-Loss-Free
// Load Balancing", eq. 4): 0 is perfect balance; 1 means the busiest expert does twice its share.
double max_violation(const std::vector<double>& load);
// Entropy of the load distribution over log(N_r): 1 when every expert gets the same share, 0
// when one expert takes every token (the "routing collapse" balancing guards against).
double load_entropy(const std::vector<double>& load);

// L_Bal = alpha * sum_i f_i P_i (V3 eqs. 17-20) over each run of T consecutive tokens (a sequence),
// averaged over the runs: f_i = N_r / (K_r T) * #{t : t chose i} (counted, so the gradient reaches
// the gate through P only) and P_i = (1/T) sum_t s'_{i,t}. With T = the sequence length it is
// DeepSeek-V3's complementary sequence-wise balance loss, and DeepSeek-V2's expert-level balance
// loss (V2 eqs. 12-14, also per sequence: V2's config.json sets seq_aux; its softmax scores make
// s' = s). With T = every token of the batch it is the classic batch-level auxiliary loss
// (GShard, Switch Transformer). The minimum, alpha, is an even spread.
Tensor balance_loss(const Routing& r, int64_t T, float alpha);

// Auxiliary-loss-free balancing (V3 section 2.1.2; Wang et al. 2024, Algorithm 1): after each
// step b_i += gamma * sign(mean load - Load_i). Overloaded experts lose selection bias and
// underloaded ones gain it. No gradient: the bias is a buffer the optimizer never sees. A gate
// without the bias (topk_method other than noaux_tc) throws one sentence.
void update_bias(Gate& gate, const std::vector<double>& load, float gamma);

// V3 is what DeepSeek-V3 trains with: the aux-free bias plus the sequence-wise loss.
enum class Balancing { None, AuxLoss, AuxFree, SeqAux, V3 };
// "none", "aux_loss", "aux_free", "seq_aux", "v3"; anything else throws one sentence.
Balancing parse_balancing(const std::string& name);
std::string balancing_name(Balancing b);

}  // namespace ds::ch04
