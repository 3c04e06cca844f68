#include "common/autograd.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "common/ops.hpp"

namespace ds {
namespace {
thread_local bool g_grad_enabled = true;

struct OpProfiler {
  using Clock = std::chrono::steady_clock;
  bool on = false;
  std::mutex mu;
  std::map<std::string, op_profile::Entry> table;
  Clock::time_point last;

  static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
  void forward(const char* name) {
    std::lock_guard<std::mutex> lock(mu);
    op_profile::Entry& e = table[name];
    e.forward_s += since(last);
    ++e.calls;
    last = Clock::now();
  }
  void backward(const std::string& name, Clock::time_point start) {
    std::lock_guard<std::mutex> lock(mu);
    table[name].backward_s += since(start);
  }
};
OpProfiler g_profiler;

// Runs a node's backward, timed when the profiler is on.
void run_node_backward(Node& node, const Tensor& g, const std::vector<bool>& need, std::vector<Tensor>& gin) {
  for (const auto& hook : node.pre_backward) hook();
  if (!g_profiler.on) return node.backward(g, need, gin);
  const auto start = OpProfiler::Clock::now();
  node.backward(g, need, gin);
  g_profiler.backward(node.name, start);
}

// d[i] += src[i], large sums on every core.
void add_into(float* d, const float* src, int64_t n) {
#pragma omp parallel for simd if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) d[i] += src[i];
}

// Non-leaf gradients: a backward may hand the same tensor to two inputs, so a sum is written in
// place only into a gradient nothing else refers to (one pass less than a new tensor), else out
// of place. The same float additions either way.
void accumulate(Tensor& acc, const Tensor& g) {
  if (!acc.defined()) { acc = g; return; }
  if (acc.sole_owner() && acc.shape() == g.shape()) return add_into(acc.data(), g.data(), acc.numel());
  NoGradGuard ng;
  acc = add(acc, g);
}

// Leaf gradients are owned by the leaf (adopted on first arrival when nothing else refers to the
// incoming tensor, cloned otherwise) and summed in place, so gradient accumulation over
// micro-batches and in-place clipping are safe.
void accumulate_leaf(TensorImpl* leaf, const Tensor& g) {
  if (g.shape() != leaf->shape) shape_error("backward", "gradient shape differs from its tensor", leaf->shape, g.shape());
  // Weight gradients are the largest tensors a backward touches: the copy and the sum use every core.
  const int64_t n = g.numel();
  const float* src = g.data();
  if (!leaf->grad && g.sole_owner() && !g.grad_fn()) {
    leaf->grad = std::make_shared<Tensor>(g);   // a gradient nobody else holds becomes .grad as it is
    return;
  }
  if (!leaf->grad) {
    leaf->grad = std::make_shared<Tensor>(Tensor::empty(g.shape()));
    float* d = leaf->grad->data();
#pragma omp parallel for simd if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) d[i] = src[i];
    return;
  }
  add_into(leaf->grad->data(), src, n);
}

std::vector<Node*> topo_order(const std::vector<Tensor>& roots) {
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, size_t>> stack;
  for (const auto& r : roots) {
    Node* n = r.grad_fn().get();
    if (!n || !seen.insert(n).second) continue;
    stack.push_back({n, 0});
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->inputs.size()) {
        Node* child = node->inputs[next++]->grad_fn.get();
        if (child && seen.insert(child).second) stack.push_back({child, 0});
      } else {
        order.push_back(node);
        stack.pop_back();
      }
    }
  }
  return {order.rbegin(), order.rend()};   // roots first
}

enum class LeafMode { Now, DeferUnlisted };

WeightGradWork run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain,
                            LeafMode mode, const std::unordered_set<TensorImpl*>& listed) {
  if (roots.size() != grads.size()) throw std::invalid_argument("backward: one gradient per root is needed");
  std::unordered_map<Node*, Tensor> gout;
  std::unordered_map<Node*, std::shared_ptr<Node>> owner;
  for (size_t i = 0; i < roots.size(); ++i) {
    if (!roots[i].requires_grad()) throw std::invalid_argument("backward: a root does not require grad");
    if (grads[i].shape() != roots[i].shape())
      shape_error("backward", "gradient shape differs from its root", roots[i].shape(), grads[i].shape());
    if (roots[i].is_leaf()) { accumulate_leaf(roots[i].impl(), grads[i]); continue; }
    accumulate(gout[roots[i].grad_fn().get()], grads[i]);
    owner[roots[i].grad_fn().get()] = roots[i].grad_fn();
  }
  WeightGradWork deferred;
  for (Node* node : topo_order(roots)) {
    auto it = gout.find(node);
    if (it == gout.end()) continue;                  // not reached from any root
    if (!node->backward) throw std::logic_error("backward: the graph through '" + node->name + "' was already freed (use retain_graph)");
    const Tensor g = it->second;
    gout.erase(it);
    const size_t n_in = node->inputs.size();
    std::vector<bool> need(n_in, false), deferred_leaf(n_in, false);
    bool any = false;
    for (size_t i = 0; i < n_in; ++i) {
      TensorImpl* in = node->inputs[i].get();
      if (!in->requires_grad) continue;
      const bool leaf = in->grad_fn == nullptr;
      if (leaf && mode == LeafMode::DeferUnlisted && !listed.count(in)) { deferred_leaf[i] = true; continue; }
      need[i] = any = true;
    }
    bool has_deferred = false;
    for (bool d : deferred_leaf) has_deferred |= d;
    if (has_deferred) deferred.add(owner.at(node), g, deferred_leaf);
    if (any) {
      std::vector<Tensor> gin(n_in);
      run_node_backward(*node, g, need, gin);
      for (size_t i = 0; i < n_in; ++i) {
        if (!need[i]) continue;
        TensorImpl* in = node->inputs[i].get();
        if (!gin[i].defined()) throw std::logic_error("backward: '" + node->name + "' produced no gradient for an input");
        if (in->grad_fn) {
          accumulate(gout[in->grad_fn.get()], gin[i]);
          owner[in->grad_fn.get()] = in->grad_fn;
          if (in->retains_grad) accumulate_leaf(in, gin[i]);
        } else {
          accumulate_leaf(in, gin[i]);
        }
      }
    }
    if (!retain && !has_deferred) { node->backward = nullptr; node->inputs.clear(); node->pre_backward.clear(); }
  }
  return deferred;
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }
EnableGradGuard::EnableGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { g_grad_enabled = prev_; }

namespace op_profile {
void start() {
  std::lock_guard<std::mutex> lock(g_profiler.mu);
  g_profiler.table.clear();
  g_profiler.on = true;
  g_profiler.last = OpProfiler::Clock::now();
}
void stop() { g_profiler.on = false; }
void mark() {
  std::lock_guard<std::mutex> lock(g_profiler.mu);
  g_profiler.last = OpProfiler::Clock::now();
}
std::vector<Entry> entries() {
  std::lock_guard<std::mutex> lock(g_profiler.mu);
  std::vector<Entry> out;
  for (auto& [name, e] : g_profiler.table) {
    out.push_back(e);
    out.back().op = name;
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.forward_s + a.backward_s > b.forward_s + b.backward_s; });
  return out;
}
}  // namespace op_profile

Tensor record(Tensor out, const std::vector<Tensor>& inputs, const char* name, BackwardFn fn) {
  if (!g_grad_enabled) return out;
  bool any = false;
  for (const auto& t : inputs) any |= t.defined() && t.requires_grad();
  if (!any) return out;
  if (g_profiler.on) g_profiler.forward(name);
  auto node = std::make_shared<Node>();
  node->name = name;
  for (const auto& t : inputs) {
    if (!t.defined()) throw std::logic_error(std::string(name) + ": undefined input recorded on the tape");
    node->inputs.push_back(t.impl_ptr());
  }
  node->backward = std::move(fn);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
  return out;
}

void WeightGradWork::add(std::shared_ptr<Node> node, Tensor grad_out, std::vector<bool> leaves) {
  items_.push_back({std::move(node), std::move(grad_out), std::move(leaves)});
}

void WeightGradWork::run() {
  for (auto& it : items_) {
    std::vector<Tensor> gin(it.node->inputs.size());
    run_node_backward(*it.node, it.grad_out, it.leaves, gin);
    for (size_t i = 0; i < gin.size(); ++i)
      if (it.leaves[i]) accumulate_leaf(it.node->inputs[i].get(), gin[i]);
    it.node->backward = nullptr;
    it.node->inputs.clear();
    it.node->pre_backward.clear();
  }
  items_.clear();
}

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  run_backward(roots, grads, retain_graph, LeafMode::Now, {});
}

WeightGradWork backward_inputs(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                               const std::vector<Tensor>& inputs) {
  std::unordered_set<TensorImpl*> listed;
  for (const auto& t : inputs) listed.insert(t.impl());
  return run_backward(roots, grads, false, LeafMode::DeferUnlisted, listed);
}

void Tensor::backward() const {
  if (numel() != 1) shape_error("backward", "without an explicit gradient the tensor must have one element", shape());
  ds::backward({*this}, {Tensor::full(shape(), 1.f)});
}
void Tensor::backward(const Tensor& grad_output) const { ds::backward({*this}, {grad_output}); }

}  // namespace ds
