// Data parallelism over MPI processes, with ZeRO-1 as DeepSeek-V3 trains (V3 section 3.2: "ZeRO-1
// data parallelism" across its nodes; Rajbhandari et al., "ZeRO", 2020, stage 1 = optimizer-state
// partitioning).
//
// Every rank holds the whole model and trains on its rows of the global batch (all ranks draw the
// same global batch from the same seeded sampler and take consecutive row blocks, so the run
// is the single-process run on that batch). Each rank's loss is a mean over its tokens, so the
// global gradient is the mean of the ranks' gradients. Then:
//   plain DP: MPI_Allreduce of every gradient; every rank runs AdamW over every parameter.
//   ZeRO-1:   each parameter has one owner rank (whole tensors, largest first onto the least
//             loaded rank, so AdamW's per-tensor rules such as no decay on 1-D norms stay as
//             they are); MPI_Reduce_scatter leaves each owner the summed gradient of its own
//             parameters; each rank keeps AdamW's moments (2 x 4 bytes per parameter) only for
//             those and updates only them; MPI_Allgatherv hands every rank the updated weights.
//             Communication volume equals one all-reduce; optimizer memory is divided by ranks.
// Gradient clipping uses the global norm (each rank's owned gradients' squares, summed by
// MPI_Allreduce), and the auxiliary-loss-free bias moves by the expert loads of the whole
// global batch (summed over ranks), so both match one process.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ch04/balance_hook.hpp"
#include "ch06/pretrain.hpp"
#include "common/mpi.hpp"
#include "common/tokenizer.hpp"

namespace ds::ch06 {

// The gradient of every tensor (zeros where a rank has none) averaged over ranks, in place.
void allreduce_mean_grads(const std::vector<Tensor>& params);

// Which rank owns (keeps the moments of, updates) each parameter under ZeRO-1.
std::vector<int> zero1_owners(const NamedTensors& params, int ranks);

// The auxiliary-loss-free bias update (V3 section 2.1.2) from the expert loads of the whole
// global batch: this rank's loads summed over ranks. Saves its state under "balance" in the
// layout of ch04::BalanceHook, so checkpoints resume in either program.
class GlobalBalanceHook : public TrainerHook, private ch04::RoutingObserver {
 public:
  GlobalBalanceHook(std::vector<ch04::MoE*> layers, float gamma);
  ~GlobalBalanceHook() override;
  GlobalBalanceHook(const GlobalBalanceHook&) = delete;
  GlobalBalanceHook& operator=(const GlobalBalanceHook&) = delete;
  void after_step(StepStats& s) override;   // updates the biases, adds "maxvio"
  std::string key() const override { return "balance"; }
  nlohmann::json state() const override { return {{"load", load_history_}}; }
  void load_state(const nlohmann::json& state) override;

 private:
  void on_routing(const ch04::MoE& layer, const ch04::Routing& r, int64_t tokens_per_sequence, int64_t dropped) override;
  std::vector<ch04::MoE*> layers_;
  float gamma_;
  std::vector<std::vector<double>> step_load_;
  std::vector<std::vector<std::vector<int64_t>>> load_history_;
};

// The sequence-wise balance loss of V3 (or V2's, for a gate without bias) without the bias
// update, which GlobalBalanceHook makes from global loads.
ch04::BalanceConfig loss_only_balancing(const DeepSeekModel& model, const PretrainConfig& cfg);

// ch06_pretrain's training (loss, balancing, schedule, checkpoints) spread over the MPI ranks.
class DataParallelTrainer {
 public:
  // model: this rank's full replica, initialised identically on every rank (same seed).
  // With expert parallelism (expert_parallel.hpp), rank_local names the parameters only this
  // rank holds (its experts: their gradients already sum every rank's tokens, so they are not
  // reduced, and their moments live here) and excluded those other ranks hold.
  DataParallelTrainer(DeepSeekModel& model, const PretrainConfig& cfg, bool zero1, const std::vector<std::string>& rank_local = {},
                      const std::vector<std::string>& excluded = {});
  ~DataParallelTrainer();

  // One step on the sampler's next global batch (this rank trains on its rows), recorded.
  StepStats step(const TokenDataset& data);
  // One step on this global batch (not recorded).
  StepStats train_step(const Batch& global_batch);
  // As Trainer::run: evaluations at 0, every eval_every and at the end; progress on rank 0.
  const TrainHistory& run(const TokenDataset& data, const std::function<bool(const StepStats&)>& on_step = {});
  Metrics evaluate(const TokenDataset& data) const;   // the validation batches spread over the ranks

  // A checkpoint folder as ch06_pretrain writes it (rank 0 writes; every rank must call):
  // the model files, AdamW's moments gathered from the shards under their single-process names,
  // and trainer_state.json with this run's sampler. load() reads either program's checkpoint.
  // Not with expert parallelism (the experts would first have to be gathered).
  void save(const std::string& dir, const Tokenizer* tokenizer);
  void load(const std::string& dir);

  int64_t optimizer_bytes() const;   // AdamW moments this rank holds
  int64_t step_count() const { return trainer_->step_count(); }
  const TrainHistory& history() const { return trainer_->history; }
  bool zero1() const { return zero1_; }
  int64_t owned_parameters() const;   // elements of the parameters this rank updates

 private:
  DeepSeekModel& model_;
  PretrainConfig cfg_;
  bool zero1_;
  NamedTensors params_;         // replicated on every rank
  NamedTensors local_;          // this rank's alone (expert parallelism)
  std::vector<int> owner_;     // per parameter; all -1 without ZeRO-1 (everyone updates everything)
  std::vector<size_t> order_;  // parameters grouped by owner rank (the reduce-scatter layout)
  std::vector<int> counts_;    // elements per rank in that layout
  ch04::BalanceHook balance_loss_;
  GlobalBalanceHook balance_;
  LossFn loss_;
  std::unique_ptr<Trainer> trainer_;   // AdamW over the owned parameters; the step's second half
  Rng sampler_;
};

}  // namespace ds::ch06
