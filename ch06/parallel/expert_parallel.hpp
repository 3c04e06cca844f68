// Expert parallelism (EP) over MPI processes, as DeepSeek-V3 spreads its routed experts over GPUs
// and nodes (V3 section 3.2.2; GShard's all-to-all dispatch and combine).
//
// With EP ranks, rank r holds routed experts [r E/EP, (r+1) E/EP) of every MoE layer; attention,
// the gate and the shared experts are replicated, each rank running them on its own tokens.
// A MoE layer's routed experts then run in three steps:
//   dispatch  each token is sent once to every rank holding one of its k experts (MPI_Alltoallv),
//             with its combine weights g and which of that rank's experts it chose; as in V3,
//             a token crosses to a node once however many of the node's experts it uses
//   compute   each rank runs its experts on the rows it received (ch04's routed_experts op)
//   combine   each rank sends back, per received row, sum over its experts of g FFN(x), and the
//             token's owner adds up the rows of its ranks (MPI_Alltoallv the other way)
// Backward runs the same way: the output gradient rows travel as the tokens did; each rank runs
// its experts' backward (their weight gradients stay local); dx and dg travel back.
// With node-limited routing (gate n_group = EP, topk_group = M) a group is a rank's experts,
// so every token goes to at most M ranks: V3's "each token is sent to at most 4 nodes".
#pragma once

#include <mpi.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "ch02/transformer.hpp"
#include "ch04/moe.hpp"
#include "ch06/model.hpp"

namespace ds::ch06 {

// Where the routed experts live: contiguous blocks of n_experts / ranks, rank r of comm holding
// block r (comm is the EP group: the whole world, or one pipeline stage's ranks under PP x EP).
struct ExpertPlacement {
  int64_t n_experts = 0;
  int ranks = 1;
  MPI_Comm comm = MPI_COMM_WORLD;
  int64_t per_rank() const { return n_experts / ranks; }
  int owner(int64_t expert) const { return static_cast<int>(expert / per_rank()); }
};

// Rows each rank sends to and receives from every rank, with their offsets.
struct Exchange {
  std::vector<int> send, send_at, recv, recv_at;
  int64_t sent() const { return send_at.empty() ? 0 : send_at.back() + send.back(); }
  int64_t received() const { return recv_at.empty() ? 0 : recv_at.back() + recv.back(); }
  Exchange reversed() const { return {recv, recv_at, send, send_at}; }
};

// The rows a rank received: its experts' inputs x [R, C], combine weights [R * k] (0 for slots
// another rank serves) and, per local expert, the slots (row * k + s) it serves.
struct Received {
  Tensor x, weights;
  std::vector<std::vector<int32_t>> slots;
};

// One micro-batch's dispatch: which tokens go to which rank, the packed rows and the room for
// what arrives. The plan (an MPI_Alltoall of the row counts) is made by pack_dispatch; the rows
// move with exchange() (blocking) or start() (MPI_Ialltoallv, for overlapping with compute).
struct Dispatch {
  std::vector<std::vector<int32_t>> to;   // [rank] token ids sent there, ascending
  Exchange ex;
  std::vector<float> send, recv;
  int64_t c = 0, k = 0;
  MPI_Comm comm = MPI_COMM_WORLD;
  int64_t width() const { return c + 2 * k; }
  void exchange(const std::function<void()>& yield = {});   // with a yield: EpRuntime::set_yield's pattern
  void start(MPI_Request* request);
  Received received(int64_t per_rank) const;
  // [N, C]: each token's rows sent back by the combine (rows in the order they were sent), summed.
  Tensor combined(const float* returned, int64_t n) const;

 private:
  std::array<std::vector<int>, 4> counts_;   // MPI_Ialltoallv's counts stay alive until it completes
};
Dispatch pack_dispatch(const Tensor& u, const ch04::Routing& r, const ExpertPlacement& place);

// What the all-to-alls of this process moved and how long they took, summed since reset.
struct EpCounters {
  double dispatch_s = 0, compute_s = 0, combine_s = 0;                   // forward
  double backward_dispatch_s = 0, backward_compute_s = 0, backward_combine_s = 0;
  int64_t tokens = 0;          // tokens this rank routed (forward)
  int64_t token_copies = 0;    // (token, destination rank) pairs: rows dispatched, itself included
  int64_t remote_copies = 0;   // of those, rows sent to another rank
  int64_t bytes_sent = 0;      // bytes sent to other ranks by forward dispatch and combine
  double wait_s = 0;           // with sync timing: time in the barrier before each all-to-all
};

// What the expert-parallel layers of one model share: the counters they add to, the timing
// mode, and the overlap hand-over. The layers made expert parallel with it (install_expert_parallel,
// make_expert_parallel) hold a pointer to it, so it must outlive them.
class EpRuntime {
 public:
  EpCounters counters;
  // Sync timing: an MPI_Barrier before every all-to-all, timed apart (wait_s), so the all-to-all
  // times hold the exchange itself rather than the wait for a slower rank. Numbers are unchanged.
  bool sync_timing = false;

  // Overlap, as DeepSeek-V3's F&B chunk overlaps one micro-batch's all-to-all with another's
  // compute (section 3.2.1): while a yield is set for the calling thread, every token all-to-all
  // that thread starts (dispatch and combine, forward and backward) is started non-blocking
  // (MPI_Ialltoallv), then the yield runs (PipelineRank hands the core to the other half of its
  // F&B chunk there), then the all-to-all is waited for. An empty function unsets it (blocking
  // all-to-alls, the default).
  void set_yield(std::function<void()> yield);
  // The calling thread's yield, or an empty function.
  std::function<void()> yield() const;

 private:
  mutable std::mutex m_;
  std::map<std::thread::id, std::function<void()>> yields_;   // the two halves of an F&B chunk run on two threads
};

// The routed experts of one MoE layer across the ranks (every rank must call it, in the same
// order): u is this rank's [N, C] tokens; r their routing over all n_experts; local holds this
// rank's per_rank() experts in expert order. Returns [N, C] = sum_s g_{t,s} FFN_{e(t,s)}(u_t),
// differentiable in u, r.weights and the local experts' weights.
Tensor expert_parallel_routed_experts(const Tensor& u, const ch04::Routing& r, const ch04::ExpertWeights& local,
                                      const ExpertPlacement& place, EpRuntime& rt);

// This rank's experts of one MoE layer, in expert order.
ch04::ExpertWeights rank_experts(const ch04::MoE& moe, const ExpertPlacement& place, int rank);
// Makes the layer run its routed experts through expert_parallel_routed_experts with this
// rank's experts (the others' weights stay as they are); rank and ranks are within comm.
void install_expert_parallel(ch04::MoE& moe, int rank, int ranks, EpRuntime& rt, MPI_Comm comm = MPI_COMM_WORLD);

// Turns this rank's model into its EP share: every MoE layer (the MTP module's too) runs its
// routed experts through expert_parallel_routed_experts, and the other ranks' experts' weights
// are released. Returns the names of the expert parameters this rank keeps.
struct ExpertShard {
  std::vector<std::string> local;    // this rank's experts' parameter names
  std::vector<std::string> remote;   // parameters (now empty) of experts other ranks hold
};
ExpertShard make_expert_parallel(DeepSeekModel& model, int rank, int ranks, EpRuntime& rt);
// The same for any module holding MoE layers (a pipeline stage), the EP group being comm.
ExpertShard make_expert_parallel(Module& holder, const std::vector<ch04::MoE*>& moe_layers, int rank, int ranks, MPI_Comm comm, EpRuntime& rt);

// The overlap DualPipe exists for, on one MoE block (forward, no gradients) and two
// micro-batches [b, T, C]. Sequential: each micro-batch runs attention (with its norms and the
// gate), dispatch, its experts, combine and the shared expert, waiting for its own all-to-alls.
// Overlapped: micro-batch 1's attention runs while micro-batch 0's dispatch is in flight
// (MPI_Ialltoallv), micro-batch 1's experts while 0's combine is, and the shared experts while
// the last combine is. Times are the slowest rank's, medians over reps.
struct OverlapTiming {
  double sequential_s = 0, overlapped_s = 0;
  // Parts of the sequential run, summed over both micro-batches.
  double attention_s = 0, dispatch_s = 0, experts_s = 0, combine_s = 0, shared_s = 0;
};
OverlapTiming time_overlap(ch02::Block& block, const std::vector<Tensor>& micro, int reps);

}  // namespace ds::ch06
