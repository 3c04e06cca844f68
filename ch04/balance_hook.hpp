// One balancing strategy applied through training, as a trainer hook (common/trainer.hpp): its
// balance loss joins each micro-batch's loss, and after each optimizer step the
// auxiliary-loss-free bias moves by the expert loads of every micro-batch of the step. The rules
// themselves (losses, bias update, load metrics) are in balance_rules.hpp.
//
// The hook observes the MoE layers' routing (moe.hpp's RoutingObserver) as each forward makes
// it: a forward with gradients on adds its load to the step's and its balance loss to the loss
// the next add_balance_loss() returns; forwards with gradients off (evaluation, generation) are
// not training and count for nothing.
#pragma once

#include <vector>

#include "ch02/language_model.hpp"
#include "ch04/balance_rules.hpp"
#include "ch04/moe.hpp"
#include "common/dataset.hpp"
#include "common/plot.hpp"
#include "common/trainer.hpp"

namespace ds::ch04 {

struct BalanceConfig {
  Balancing strategy = Balancing::AuxFree;
  float aux_alpha = 1e-2f;   // classic auxiliary loss (Switch Transformer's 0.01)
  float seq_alpha = 1e-4f;   // V3's sequence-wise loss: "an extremely small value" (V3 section 4.2 uses 1e-4)
  float gamma = 1e-3f;       // bias update speed (V3: 0.001 for most of pretraining)
};

class BalanceHook : public TrainerHook, private RoutingObserver {
 public:
  // layers must outlive the hook.
  BalanceHook(std::vector<MoE*> layers, const BalanceConfig& cfg);
  ~BalanceHook() override;
  BalanceHook(const BalanceHook&) = delete;
  BalanceHook& operator=(const BalanceHook&) = delete;

  // loss + the balance losses of the training forwards since the last call, summed over the MoE
  // layers: alpha sum_i f_i P_i over each sequence (V3's L_Bal, eqs. 17-20) or over the whole
  // batch (the classic auxiliary loss); loss itself when the strategy adds none.
  Tensor add_balance_loss(const Tensor& loss);
  // The same balance losses alone (undefined when there are none): a pipeline stage without the
  // output head starts its backward from them as well as from its output's gradient.
  Tensor take_balance_loss();
  // The auxiliary-loss-free bias update (V3 section 2.1.2) from the loads of the step's
  // forwards, all micro-batches together; adds the step's "maxvio" (mean over layers) to s.
  void after_step(StepStats& s) override;
  std::string key() const override { return "balance"; }
  nlohmann::json state() const override;   // the per-step loads behind load_shares()
  void load_state(const nlohmann::json& state) override;

  // The loads of the step's training forwards so far, [layer][expert] in the order of the layers
  // given: where two pipeline ranks hold copies of one layer (DualPipe), each adds the other's
  // before the step, so that both copies' biases move by every micro-batch's routing.
  std::vector<std::vector<double>>& step_load() { return step_load_; }
  // Per step, each expert's share of this MoE layer's routed slots.
  std::vector<std::vector<double>> load_shares(size_t layer) const;
  const BalanceConfig& config() const { return cfg_; }

 private:
  void on_routing(const MoE& layer, const Routing& r, int64_t tokens_per_sequence, int64_t dropped) override;
  std::vector<MoE*> layers_;
  BalanceConfig cfg_;
  Tensor pending_loss_;                                         // balance losses not yet added to a loss
  std::vector<std::vector<double>> step_load_;                  // [layer][expert], this step so far
  std::vector<std::vector<std::vector<int64_t>>> load_history_;   // [step][layer][expert]
};

// A loss function whose value also carries the hook's balance losses: a MoE model's training loss.
LossFn with_balance_loss(LossFn loss, BalanceHook& hook);

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
