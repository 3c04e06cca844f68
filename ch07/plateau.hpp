// The convergence stop of a finite labelled set: train until the validation score stops
// improving, then keep the weights of the best probe (early stopping, as every supervised run
// on a fixed data set does). ch07_sft's stage 2 uses it so that its checkpoint has exhausted its
// labelled data: more epochs of the same set no longer help on problems it has not seen, which
// is the start where RL from a verifier has something to add (issue 18).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "common/nn.hpp"

namespace ds::ch07 {

// Probes of a score where higher is better. A probe improves when it beats the best so far by
// more than min_delta; done() once `patience` probes in a row have not improved.
struct PlateauStop {
  int patience = 5;
  double min_delta = 0;
  double best = -std::numeric_limits<double>::infinity();
  int64_t best_step = -1;
  int since_best = 0;   // probes since the best

  // Records the score probed after `step` steps; true when it is a new best.
  bool observe(double score, int64_t step);
  bool done() const { return since_best >= patience; }
};

// A deep copy of a module's parameters and buffers (the MoE routing biases are buffers), to put
// back the weights of the best probe after training went past it.
class Snapshot {
 public:
  void take(const Module& m);
  void restore(Module& m) const;   // one sentence when nothing was taken
  bool empty() const { return state_.empty(); }

 private:
  std::map<std::string, Tensor> state_;
};

}  // namespace ds::ch07
