// One balancing strategy driven through a training run: the loss it adds, the bias updates it
// makes after each step, and the load it leaves behind (per step and on held-out data).
#pragma once

#include <vector>

#include "ch02/language_model.hpp"
#include "ch04/balance_rules.hpp"
#include "ch04/moe.hpp"
#include "common/dataset.hpp"
#include "common/plot.hpp"

namespace ds::ch04 {

struct BalanceConfig {
  Balancing strategy = Balancing::AuxFree;
  float aux_alpha = 1e-2f;   // classic auxiliary loss (Switch Transformer's 0.01)
  float seq_alpha = 1e-4f;   // V3's sequence-wise loss: "an extremely small value" (V3 section 4.2 uses 1e-4)
  float gamma = 1e-3f;       // bias update speed (V3: 0.001 for most of pretraining)
};

class Balancer {
 public:
  Balancer(std::vector<MoE*> layers, const BalanceConfig& cfg);

  // The training loss: next-token cross-entropy plus the strategy's balance loss summed over the
  // MoE layers; records this batch's expert loads. When gradients are off (evaluation) it is the
  // plain cross-entropy and records nothing, so validation losses compare across strategies.
  Tensor loss(ch02::LanguageModel& model, const Batch& batch);
  // The balance terms alone, for a training loss of its own (MTP): reads the routing of the
  // forward just done over `batch_size` sequences (a layer's sequence length is its tokens /
  // batch_size: an MTP layer sees shorter ones), records its loads; undefined when the strategy
  // adds no loss or gradients are off.
  Tensor terms(int64_t batch_size);
  // Call after the optimizer step: the aux-free bias update, and the step's load statistics.
  void after_step();

  const std::vector<double>& maxvio_batch() const { return maxvio_batch_; }   // per step, mean over layers
  // Per step, per layer, each expert's share of the step's routed slots.
  const std::vector<std::vector<std::vector<double>>>& load_history() const { return history_; }
  const std::vector<double>& balance_loss_history() const { return balance_loss_; }

 private:
  std::vector<MoE*> layers_;
  BalanceConfig cfg_;
  std::vector<std::vector<double>> step_load_;   // [layer][expert] of the latest training batch
  double step_balance_loss_ = 0;
  std::vector<double> maxvio_batch_, balance_loss_;
  std::vector<std::vector<std::vector<double>>> history_;
};

struct LoadReport {
  double maxvio_global = 0;          // MaxVio of each layer's load over the whole set, mean over layers
  double entropy = 0;                // load entropy / log(N_r), mean over layers
  int64_t dropped = 0;               // (token, expert) pairs dropped by a capacity limit
  std::vector<std::vector<double>> load;   // [layer][expert] token counts
};
// The experts' load over the first max_batches validation batches (Wang et al.'s MaxVio_global).
LoadReport measure_load(ch02::LanguageModel& model, const std::vector<MoE*>& layers, const TokenDataset& data, int64_t batch_size,
                        int64_t seq_len, int64_t max_batches);

// Experts x steps heatmap of load shares (shares[step][expert]), thinned to about 120 columns
// labelled with the 1-based step numbers.
Heatmap load_heatmap(const std::vector<std::vector<double>>& shares, const std::string& title);

}  // namespace ds::ch04
