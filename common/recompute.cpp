#include "common/recompute.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

#include "common/autograd.hpp"

namespace ds {
namespace detail {

// One region's state, shared by its node, its outputs' nodes and the consumers' hooks.
struct Region {
  RegionFn fn;
  std::string name;
  std::vector<Tensor> inputs, params;
  std::vector<std::shared_ptr<Storage>> storages;   // each output's, discarded or not
  std::vector<Tensor> grads;                        // each output's gradient, set by its node
  std::vector<Tensor> leaves, rerun;                // a re-run and its tape, until the next backward uses it

  // fn again on detached copies of the inputs, recording.
  void run_again() {
    EnableGradGuard on;
    leaves.clear();
    for (const auto& t : inputs) {
      Tensor l = t.detach();
      leaves.push_back(t.requires_grad() ? l.requires_grad_() : l);
    }
    rerun = fn(leaves);
    if (rerun.size() != storages.size()) throw std::logic_error(name + ": the re-run returned another number of outputs");
  }

  // The consumer's pre-backward hook: the discarded outputs, recomputed into their storage.
  void refill() {
    bool any = false;
    for (const auto& s : storages) any |= s->discarded();
    if (!any) return;
    run_again();
    for (size_t i = 0; i < storages.size(); ++i) {
      Storage& s = *storages[i];
      if (!s.discarded()) continue;
      if (rerun[i].numel() != s.size()) throw std::logic_error(name + ": the re-run's output " + std::to_string(i) + " has another size");
      s.restore();
      std::memcpy(s.data(), rerun[i].data(), static_cast<size_t>(s.size()) * sizeof(float));
      TensorImpl* r = rerun[i].impl();
      if (r->offset == 0 && r->storage->size() == s.size()) r->storage = storages[i];   // the bytes exist once
    }
  }

  // The region node's backward: gradients of the needed inputs and params through a re-run.
  // Only they are listed in the re-run's backward, so params this call does not need (a split
  // backward's W comes later) get nothing now.
  void backward(const std::vector<bool>& need, std::vector<Tensor>& gin) {
    if (rerun.empty()) run_again();
    const size_t n_in = inputs.size();
    std::vector<Tensor> listed, roots, gs;
    for (size_t i = 0; i < n_in; ++i) {
      if (leaves[i].requires_grad() && !need[i]) leaves[i].requires_grad_(false);
      if (need[i]) listed.push_back(leaves[i]);
    }
    std::vector<std::shared_ptr<Tensor>> stash(params.size());   // params' own .grad, set aside
    for (size_t j = 0; j < params.size(); ++j) {
      if (!need[n_in + j]) continue;
      stash[j] = std::move(params[j].impl()->grad);
      params[j].impl()->grad = nullptr;
      listed.push_back(params[j]);
    }
    for (size_t i = 0; i < rerun.size(); ++i)
      if (grads[i].defined() && rerun[i].requires_grad()) {
        roots.push_back(rerun[i]);
        gs.push_back(grads[i]);
      }
    if (!roots.empty()) backward_inputs(roots, gs, listed);   // the returned W work is the unneeded params': dropped
    const auto take = [](const Tensor& t) { return t.grad().defined() ? t.grad() : Tensor::zeros(t.shape()); };
    for (size_t i = 0; i < n_in; ++i)
      if (need[i]) gin[i] = take(leaves[i]);
    for (size_t j = 0; j < params.size(); ++j) {
      if (!need[n_in + j]) continue;
      gin[n_in + j] = take(params[j]);
      params[j].impl()->grad = std::move(stash[j]);
    }
    leaves.clear();
    rerun.clear();
  }
};

}  // namespace detail

Checkpoint::Checkpoint(RegionFn fn, const std::vector<Tensor>& inputs, const std::vector<Tensor>& params, const char* name) {
  bool any = false;
  for (const auto& t : inputs) any |= t.requires_grad();
  for (const auto& t : params) any |= t.requires_grad();
  if (!grad_enabled() || !any) {
    outputs_ = fn(inputs);
    return;
  }
  {
    NoGradGuard off;
    outputs_ = fn(inputs);
  }
  auto r = std::make_shared<detail::Region>();
  r->fn = std::move(fn);
  r->name = name;
  r->inputs = inputs;
  r->params = params;
  r->grads.resize(outputs_.size());
  for (const auto& o : outputs_) r->storages.push_back(o.impl()->storage);
  // The region's node hangs off a one-float tensor every output's node points to, so it runs
  // once, after all outputs' gradients have arrived (reverse topological order).
  std::vector<Tensor> edges = inputs;
  edges.insert(edges.end(), params.begin(), params.end());
  const Tensor hub = record(Tensor::zeros({1}), edges, name, [r](const Tensor&, const std::vector<bool>& need, std::vector<Tensor>& gin) {
    r->backward(need, gin);
  });
  for (size_t i = 0; i < outputs_.size(); ++i)   // detached: an output may be an input itself
    outputs_[i] = record(outputs_[i].detach(), {hub}, name, [r, i](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
      r->grads[i] = g;
      gin[0] = Tensor::zeros({1});
    });
  region_ = std::move(r);
}

void Checkpoint::discard(const Tensor& consumer) {
  if (!region_ || !consumer.grad_fn()) return;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const TensorImpl* o = outputs_[i].impl();
    bool shared = o->offset != 0 || o->storage->size() != outputs_[i].numel();
    for (const auto& t : region_->inputs) shared |= t.impl()->storage == o->storage;
    if (shared) throw std::logic_error(region_->name + ": output " + std::to_string(i) + " shares its storage, so it cannot be discarded");
  }
  consumer.grad_fn()->pre_backward.push_back([r = region_] { r->refill(); });
  for (const auto& s : region_->storages) s->discard();
}

}  // namespace ds
