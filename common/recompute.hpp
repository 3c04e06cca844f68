// Recomputation (activation checkpointing): a region of ops runs its forward without the tape,
// so none of its intermediates is kept; the backward re-runs it with the tape on and
// back-propagates through the re-run (torch.utils.checkpoint). Only the region's inputs are
// kept, by its node.
//
// DeepSeek-V3 goes one step further (section 3.2.3, "Recomputation of RMSNorm and MLA
// Up-Projection"): the *outputs* of RMSNorm and of MLA's up-projections are not stored either,
// although the next ops (a linear, the attention) need them in their backward. discard() frees
// the outputs' bytes as soon as those ops have recorded them, and puts them back, recomputed into
// the same storage, just before the backward that first reads them (Megatron-LM's
// CheckpointWithoutOutput works this way). The cost: the region's forward runs twice.
//
// fn receives the inputs (detached copies in the re-run) and may read `params` (a module's
// weights) directly; listing them gives the region's node its edges to them, so their gradients
// are owed by this node like any op's and a split backward (autograd.hpp: backward_inputs)
// defers them to W.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/tensor.hpp"

namespace ds {

// Takes the region's inputs and returns its outputs; must compute the same values every call.
using RegionFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs)>;

namespace detail {
struct Region;
}

class Checkpoint {
 public:
  // Runs fn(inputs) once without recording its ops. Without grad (or with no input requiring
  // it) this is just fn(inputs).
  Checkpoint(RegionFn fn, const std::vector<Tensor>& inputs, const std::vector<Tensor>& params, const char* name = "checkpoint");
  const std::vector<Tensor>& outputs() const { return outputs_; }
  const Tensor& output(size_t i) const { return outputs_.at(i); }

  // Frees the outputs' bytes now. `consumer` is computed from every use of the outputs (the
  // sublayer's result, say), so its backward runs before any backward that reads them: the
  // outputs are recomputed just before it. The outputs must not be read in the forward after
  // this. A no-op when nothing was recorded.
  void discard(const Tensor& consumer);

 private:
  std::shared_ptr<detail::Region> region_;
  std::vector<Tensor> outputs_;
};

}  // namespace ds
