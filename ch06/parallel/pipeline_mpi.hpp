// Pipeline-parallel training on real processes: one MPI rank per pipeline rank of a schedule
// (pipeline_schedule.hpp), each holding its stages of the mini-DeepSeek (stage.hpp) and running
// its op list exactly as the simulator replays it: post the op's transfers (MPI_Isend /
// MPI_Irecv), wait for all of them, compute the op; at the end, the tail's transfers.
//
//   F   the chunk's stage forward: token ids (stage 0) or the received activation; the last stage
//       adds the MTP loss (V3 eqs. 21-25); each stage's sequence-wise balance losses (eqs.
//       17-20) are taken right after its forward, so each joins its own micro-batch's backward
//   B   backward from the loss (last stage) or from the received output gradient, plus the
//       balance losses, each scaled by 1/M: the gradient of the mean over micro-batches, as the
//       single-process trainer accumulates it. Split (zero bubble): backward_inputs now, W later
//   W   the weight gradients a split B left (WeightGradWork::run)
//   FB  F of one chunk, then B of another: on a CPU rank the two run one after the other, or, with
//       set_overlap(true) under EP, interleaved at the expert all-to-alls (see set_overlap)
//
// After the last op: parameters held on several ranks (the embedding on the first and the last
// stage; with DualPipe every stage, held once per direction) get the sum of their copies'
// gradients, and the routing loads of every copy of a MoE layer are added up (MPI_Allreduce),
// so each copy takes the same AdamW step and bias update; the global gradient norm adds up each
// rank's squared norm with every parameter counted once; then the one trainer's optimizer_step.
//
// PP x EP (ep > 1; V3 trains with both, section 3.2): world rank w is EP index w % ep of pipeline
// rank w / ep. The ep ranks of a pipeline rank form its EP group: each takes its share of every
// micro-batch's sequences (as data parallelism does), holds 1/ep of every MoE layer's routed
// experts and exchanges tokens with them through expert_parallel.hpp's all-to-alls in forward and
// backward. All of them run the pipeline rank's op list in the same order, so their collectives
// match; activations and gradients go between the same-EP-index ranks of neighbouring pipeline
// ranks. After the last op the replicated weights (all but the routed experts) get the sum over
// the EP group and the pipeline copies; a routed expert's gradient already sums every EP rank's
// tokens, so only its pipeline copies (DualPipe) are added.
#pragma once

#include <mpi.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ch06/parallel/expert_parallel.hpp"
#include "ch06/parallel/pipeline_schedule.hpp"
#include "ch06/parallel/pipeline_sim.hpp"
#include "ch06/parallel/routing_trace.hpp"
#include "ch06/pretrain.hpp"
#include "ch06/parallel/stage.hpp"
#include "common/autograd.hpp"

namespace ds::ch06 {

// Layers [begin, end) of each of `stages` pipeline stages, as even as the count allows.
std::vector<std::pair<int64_t, int64_t>> stage_layers(int64_t num_layers, int stages);

// What one rank saw during one step.
struct StepRecord {
  std::vector<OpSpan> spans;   // each op's computation, seconds from the step's start (a barrier)
  std::vector<double> wait;    // before each op: seconds spent completing its transfers
  double end = 0;              // this rank's tail transfers done
  // Live tensor bytes (memory.hpp) above the step's start, at each op's start and end.
  std::vector<std::pair<double, double>> live;   // (seconds, bytes)
  std::vector<double> all_to_all;   // with EP: seconds each op spent in expert all-to-alls (EpRuntime's counters)
};

class PipelineRank {
 public:
  // This process's rank of schedule s (ep MPI ranks per schedule rank, see PP x EP above), its
  // stages of cfg freshly built; the weights come from load_weights() or resume().
  PipelineRank(const Schedule& s, const DeepSeekConfig& cfg, const PretrainConfig& pc, int ep = 1);
  ~PipelineRank();

  // Copies this rank's tensors out of a whole model's state dict, by name (every rank starting
  // from the same DeepSeekModel: the single-process run's initial weights).
  void load_weights(const NamedTensors& full);
  // Weights and trainer state from a checkpoint save() wrote with the same schedule and ranks.
  void resume(const std::string& dir);

  // One optimizer step on the trainer's next batch (every rank draws the same one).
  StepStats step(const TokenDataset& data, StepRecord& record);

  // The whole model into dir (rank 0 gathers every tensor into `whole`, a DeepSeekModel it owns;
  // other ranks pass nullptr): config.json, model.safetensors, tokenizer.json as ch06_pretrain
  // writes them, plus pipeline.json and each rank's trainer state (pipeline_rank<r>/). Collective.
  void save(const std::string& dir, DeepSeekModel* whole, const Tokenizer* tokenizer) const;

  Trainer& trainer() { return *trainer_; }
  const Schedule& schedule() const { return s_; }
  int rank() const { return rank_; }   // in the schedule
  int ep() const { return ep_; }
  // The F&B chunk as V3 runs it (section 3.2.1), with EP: the backward runs in a second thread and
  // the two halves take turns on this rank's core, each handing over right after starting an
  // expert all-to-all (expert_parallel.hpp's EpRuntime::set_yield), so one micro-batch's tokens are
  // in flight while the other's attention and experts compute. Same numbers, another order in time.
  void set_overlap(bool on);
  // Writes every training token's chosen experts in this process's MoE layers to path
  // (routing_trace.hpp), keyed by step, micro-batch and the token's place in the global batch.
  void trace_routing(const std::string& path);

 private:
  // What a chunk (micro-batch, stage, direction) keeps between its F, B and W.
  struct Slot {
    Tensor act;        // the received activation, until F reads it
    Tensor in;         // received(act): its .grad() is what B sends upstream
    Tensor out, loss, bal;   // F's output, the last stage's loss, the balance losses
    Tensor grad_out;   // the received gradient of out, until B reads it
    WeightGradWork w;  // a split B's deferred weight gradients
  };
  struct Replicated {
    std::string name;
    int64_t numel = 0;
    bool held = false;   // by this rank
  };
  // Gradients summed over a communicator (every copy's part, zeros where a rank holds none).
  static void sum_gradients(const std::vector<Replicated>& list, std::map<std::string, Tensor>& params, MPI_Comm comm);
  Slot& slot(const Chunk& c);
  Stage& stage_of(const Chunk& c);
  void post(const std::vector<Transfer>& comm);
  void forward(const Chunk& c, const std::vector<Batch>& micro);
  void backward(const Chunk& c, bool split);
  void overlapped(const Op& fb, const std::vector<Batch>& micro);
  void combine_gradients();
  void combine_loads();
  NamedTensors owned_tensors() const;

  Schedule s_;
  DeepSeekConfig cfg_;
  PretrainConfig pc_;
  int rank_;                                        // in the schedule
  int ep_ = 1, ep_rank_ = 0;                        // EP group size and this process's index in it
  bool overlap_ = false;
  EpRuntime ep_rt_;                                 // with EP: its layers' counters and overlap hand-over (outlives stages_)
  MPI_Comm ep_comm_ = MPI_COMM_NULL, pipe_comm_ = MPI_COMM_NULL;   // this pipeline rank's EP group; the ranks of this EP index
  std::set<std::string> experts_, remote_;          // routed-expert parameters (with EP): all, and those other EP ranks hold
  std::vector<Replicated> expert_copies_;           // with EP: this EP index's experts held on several pipeline ranks
  std::vector<std::pair<int64_t, int64_t>> cuts_;   // layers of each stage
  std::vector<std::unique_ptr<Stage>> stages_;      // by local chunk
  std::map<std::string, Tensor> params_;            // this rank's parameters by name (tied copies once)
  std::map<std::string, int> owner_;                // every tensor of the model: the lowest rank holding it
  std::vector<Replicated> replicated_;              // parameters held on several ranks, in name order
  std::vector<int64_t> moe_global_;                 // the balance hook's layers: their index in the whole model
  std::unique_ptr<ch04::BalanceHook> balance_;
  std::unique_ptr<Trainer> trainer_;
  std::map<std::tuple<int, int, int>, Slot> slots_;   // by (direction, stage, micro-batch)
  std::unique_ptr<RoutingTrace> trace_;             // null unless trace_routing()
  double step_loss_ = 0, main_ce_ = 0, mtp_ce_ = 0;   // this rank's share of the step's means
};

// Every rank's record on rank 0 (in rank order; other ranks get an empty vector). Collective.
std::vector<StepRecord> gather_records(const StepRecord& mine);

}  // namespace ds::ch06
