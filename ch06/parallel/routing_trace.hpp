// Every training token's chosen experts, per MoE layer, written while a run trains: a parallel
// run's trace and the single-process run's are joined token by token (step, micro-batch,
// sequence, position, layer), so a difference in weights can be told apart from a difference in
// routing. Each token also records its routing margin (ch04::selection_margin: how far V3 eq. 16's
// group-limited top-k on s + b is from a tie); a margin near 0 is a near tie, where the rounding
// of two layouts' sums may choose differently.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ch04/moe.hpp"

namespace ds::ch06 {

class RoutingTrace : public ch04::RoutingObserver {
 public:
  // layers[i] is MoE layer global_index[i] of the whole model (DeepSeekModel::moe_layers() order).
  RoutingTrace(std::vector<ch04::MoE*> layers, std::vector<int64_t> global_index, const std::string& path);
  ~RoutingTrace() override;
  RoutingTrace(const RoutingTrace&) = delete;
  RoutingTrace& operator=(const RoutingTrace&) = delete;

  void begin_step(int64_t step);   // 1-based, as StepStats::step
  // The forwards that follow run micro-batch mb, their first row being sequence first_sequence of
  // it (an EP rank's share starts inside it). Never called (the single-process trainer's
  // accumulation): a layer's n-th forward of a step is micro-batch n, from sequence 0.
  void set_micro_batch(int64_t mb, int64_t first_sequence);
  // Forwards without gradients (evaluation) are not training and are left out.
  void on_routing(const ch04::MoE& layer, const ch04::Routing& r, int64_t tokens_per_sequence, int64_t dropped) override;

 private:
  std::vector<ch04::MoE*> layers_;
  std::vector<int64_t> global_;
  std::ofstream out_;
  int64_t step_ = 0, mb_ = -1, first_sequence_ = 0;
  std::map<const ch04::MoE*, int64_t> calls_;   // forwards of each layer this step
};

struct RoutedToken {
  int64_t step = 0, mb = 0, layer = 0, sequence = 0, position = 0;
  std::vector<int32_t> experts;   // in the gate's order
  float margin = 0;
};
// The lines of one or more trace files (a parallel run writes one per process).
std::vector<RoutedToken> read_routing_trace(const std::vector<std::string>& files);

struct RoutingComparison {
  int64_t tokens = 0;          // (token, layer) pairs both runs routed
  int64_t missing = 0;         // routed in one run only
  int64_t flips = 0;           // of those in both, with another expert set
  std::optional<RoutedToken> first_flip_a, first_flip_b;   // the earliest flip (by step), as each run saw it
  double largest_flip_margin = 0;   // the largest |margin| of any flip, in either run
  int64_t first_flip_step() const { return first_flip_a ? first_flip_a->step : 0; }
};
// Joins two traces on (step, micro-batch, layer, sequence, position); expert sets compare unordered.
RoutingComparison compare_routing(const std::vector<RoutedToken>& a, const std::vector<RoutedToken>& b);

}  // namespace ds::ch06
