// A dynamic tape like PyTorch's: each op that sees an input requiring grad records a Node
// holding its inputs and a hand-written backward. backward() walks the nodes in reverse
// topological order. Ops are coarse (a whole matmul, a whole attention), so the tape is short.
//
// Split backward (for ZB1P / DualPipe in ch06): backward_inputs() propagates gradients to
// chosen input tensors at once ("B") and returns the weight-gradient work ("W") to run later;
// B followed by W leaves exactly the gradients of one full backward.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/tensor.hpp"

namespace ds {

// gin[i] must be set for every input i with need[i]; others may stay undefined.
using BackwardFn =
    std::function<void(const Tensor& grad_out, const std::vector<bool>& need, std::vector<Tensor>& gin)>;

struct Node {
  std::string name;                                  // op name, for error messages
  std::vector<std::shared_ptr<TensorImpl>> inputs;   // the edges of the tape
  BackwardFn backward;                               // null once the graph is freed
  // Run just before `backward`, each time it runs (B or W): recomputation (recompute.hpp) puts
  // back the discarded tensors the backward reads.
  std::vector<std::function<void()>> pre_backward;
};

bool grad_enabled();

// Disables recording in this thread while alive (inference, optimizer steps, evaluation).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Enables recording in this thread while alive: a backward that re-runs a forward
// (recompute.hpp) records it even when the backward itself was started without grad.
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

// Attaches a Node to `out` when grad is enabled and any input requires grad; returns `out`.
// Ops call this once, after computing their forward result.
Tensor record(Tensor out, const std::vector<Tensor>& inputs, const char* name, BackwardFn fn);

// The weight-gradient half of a split backward: (node, grad of its output) pairs whose
// leaf-parameter gradients have not been computed yet.
class WeightGradWork {
 public:
  void run();                                        // accumulates into the parameters' .grad
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  void add(std::shared_ptr<Node> node, Tensor grad_out, std::vector<bool> leaves);

 private:
  struct Item {
    std::shared_ptr<Node> node;
    Tensor grad_out;
    std::vector<bool> leaves;   // which inputs' gradients are still owed
  };
  std::vector<Item> items_;
};

// Wall time per op, to see where a training step goes (bench_train_throughput --profile). An
// op's forward time runs from the previous op's record() (or mark()) to its own, so it holds the
// op's computation plus any glue code just before it; its backward time is its backward
// function's. Off unless started; when on, each op costs two clock reads.
namespace op_profile {
struct Entry {
  std::string op;
  double forward_s = 0, backward_s = 0;
  int64_t calls = 0;   // forward calls
};
void start();                   // clears the table and starts timing
void stop();
void mark();                    // a forward pass starts: the next op's forward time counts from here
std::vector<Entry> entries();   // largest forward + backward first
}  // namespace op_profile

// Full backward from `roots` (each with its output gradient); accumulates into leaves' .grad.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph = false);

// "B" of a split backward: gradients reach `inputs` (leaves that require grad, e.g. a
// pipeline stage's received activations) now; all other leaves are deferred to the returned work.
WeightGradWork backward_inputs(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                               const std::vector<Tensor>& inputs);

}  // namespace ds
