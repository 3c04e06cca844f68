// The DeepSeekMoE layer (DeepSeek-V3 eq. 12):
//   h'_t = u_t + sum_{i=1}^{N_s} FFN_i^(s)(u_t) + sum_{i=1}^{N_r} g_{i,t} FFN_i^(r)(u_t)
// Fine-grained routed experts (small SwiGLUs, ch02::SwiGLU, so each has its checkpoint names)
// and shared experts that every token uses; the gate (gate.hpp, eqs. 13-16) gives g_{i,t}. The
// routed experts run as one op (routed_experts.hpp): each expert's tokens are gathered and go
// through one GEMM chain, never a dense loop over all experts for all tokens. The residual u_t
// is added by the block (ch02::Block).
// Names as DeepSeek-V3's checkpoint: mlp.gate, mlp.experts.{j}, mlp.shared_experts.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "ch02/layers.hpp"
#include "ch04/gate.hpp"
#include "ch04/routed_experts.hpp"

namespace ds::ch04 {

struct MoEConfig {
  GateConfig gate;
  int64_t moe_intermediate_size = 128;   // width of each routed expert
  int64_t n_shared_experts = 1;          // fused into one SwiGLU of n_shared x width, as V3 stores them
  // Classic MoE's expert capacity (GShard, Switch; DeepSeek-V2's token dropping): each expert takes
  // at most ceil(capacity_factor * N * k / E) of a batch's N tokens, keeping those with the largest
  // routing weights; the rest of its tokens pass through without it. 0 = no limit (DeepSeek-V3).
  float capacity_factor = 0.f;
};

class MoE;

// Sees the routing of every forward of the layers it is attached to, as PyTorch's forward hooks
// see a module's outputs. Balancing (balance_hook.hpp) and load measurements subscribe here
// instead of reading a "last routing" after the fact, so no forward of a step goes unseen:
// every micro-batch, every MTP layer, every pipeline stage reports its own.
class RoutingObserver {
 public:
  virtual ~RoutingObserver() = default;
  // r routes this forward's N tokens, which come in sequences of tokens_per_sequence (the T of
  // x [B, T, C]; N for a flat x [N, C]); dropped: (token, expert) pairs a capacity limit dropped.
  virtual void on_routing(const MoE& layer, const Routing& r, int64_t tokens_per_sequence, int64_t dropped) = 0;
};

class MoE : public ch02::FeedForwardLayer {
 public:
  MoE(const MoEConfig& cfg, Rng& rng);
  Tensor forward(const Tensor& x) override;   // x [B, T, C] or [N, C] -> the same shape
  const MoEConfig& config() const { return cfg_; }
  // Observers must detach before they or the layer are destroyed.
  void attach(RoutingObserver* observer);
  void detach(RoutingObserver* observer);

  Gate gate;
  std::vector<std::unique_ptr<ch02::SwiGLU>> experts;
  std::unique_ptr<ch02::SwiGLU> shared_experts;
  ExpertWeights expert_weights() const;   // the routed experts' weight tensors, for routed_experts()
  // How the routed experts run on u [N, C] with routing r (no capacity limit): empty = routed_experts()
  // in this process; expert parallelism (ch06/parallel/expert_parallel.hpp) sends tokens to the processes
  // that hold their experts instead. Returns sum_i g_{i,t} FFN_i^(r)(u_t), [N, C].
  std::function<Tensor(const Tensor& u, const Routing& r)> routed_experts_fn;

 private:
  MoEConfig cfg_;
  std::vector<RoutingObserver*> observers_;
};

// Every routing the layers make while it is alive (load measurements, tests).
class RoutingLog : public RoutingObserver {
 public:
  struct Entry {
    Routing routing;
    int64_t tokens_per_sequence = 0, dropped = 0;
  };
  explicit RoutingLog(std::vector<MoE*> layers);
  ~RoutingLog() override;
  RoutingLog(const RoutingLog&) = delete;
  RoutingLog& operator=(const RoutingLog&) = delete;
  const std::vector<Entry>& entries(size_t layer) const { return entries_.at(layer); }   // in forward order
  void on_routing(const MoE& layer, const Routing& r, int64_t tokens_per_sequence, int64_t dropped) override;

 private:
  std::vector<MoE*> layers_;
  std::vector<std::vector<Entry>> entries_;
};

}  // namespace ds::ch04
