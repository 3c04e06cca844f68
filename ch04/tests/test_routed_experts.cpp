#include <doctest/doctest.h>

#include "ch04/routed_experts.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch04;

namespace {
struct Case {
  Tensor x, g;   // [N, C], [N * k]
  ExpertWeights w;
  std::vector<std::vector<int32_t>> slots;
  int64_t k = 2;
};

// 10 tokens, 4 experts of width 6, 2 slots per token; with drop, every fifth slot is served by
// no expert (as a capacity limit leaves it), and expert 3 gets no tokens at all.
Case make_case(bool drop) {
  Case c;
  const int64_t n = 10, dim = 8, e = 4, width = 6;
  c.x = test::rnd({n, dim}, 1).requires_grad_();
  c.g = test::rnd({n * c.k}, 2).requires_grad_();
  for (int64_t j = 0; j < e; ++j) {
    c.w.gate_proj.push_back(test::rnd({width, dim}, 10 + j, 0.5f).requires_grad_());
    c.w.up_proj.push_back(test::rnd({width, dim}, 20 + j, 0.5f).requires_grad_());
    c.w.down_proj.push_back(test::rnd({dim, width}, 30 + j, 0.5f).requires_grad_());
  }
  c.slots.resize(e);
  for (int32_t q = 0; q < n * c.k; ++q) {
    if (drop && q % 5 == 0) continue;
    c.slots[static_cast<size_t>(drop ? (q * 7) % 3 : (q * 7) % 4)].push_back(q);
  }
  return c;
}

std::vector<Tensor> leaves(const Case& c) {
  std::vector<Tensor> out = {c.x, c.g};
  for (const auto* list : {&c.w.gate_proj, &c.w.up_proj, &c.w.down_proj}) out.insert(out.end(), list->begin(), list->end());
  return out;
}

// The gradients of every input after `backward` of the op's output with gout.
template <class Backward>
std::vector<Tensor> grads(const Case& c, const Tensor& y, const Tensor& gout, const Backward& backward) {
  for (Tensor t : leaves(c)) t.zero_grad();
  backward(y, gout);
  std::vector<Tensor> out;
  for (const Tensor& t : leaves(c)) out.push_back(t.grad().defined() ? t.grad().clone() : Tensor::zeros(t.shape()));
  return out;
}
}  // namespace

TEST_CASE("routed experts: the fused op equals the plain reference (gather, SwiGLU, scatter), values and gradients") {
  for (bool drop : {false, true}) {
    const Case c = make_case(drop);
    const Tensor gout = test::rnd({10, 8}, 3);
    const auto full = [](const Tensor& y, const Tensor& g) { y.backward(g); };
    const Tensor y_fused = routed_experts(c.x, c.g, c.k, c.slots, c.w);
    const Tensor y_ref = routed_experts_reference(c.x, c.g, c.k, c.slots, c.w);
    CHECK(test::max_abs_diff(y_fused, y_ref) < 1e-5f);
    const auto g_fused = grads(c, y_fused, gout, full);
    const auto g_ref = grads(c, routed_experts_reference(c.x, c.g, c.k, c.slots, c.w), gout, full);
    for (size_t i = 0; i < g_fused.size(); ++i) CHECK_MESSAGE(test::max_abs_diff(g_fused[i], g_ref[i]) < 1e-5f, "input " << i);
    if (drop) CHECK(test::max_abs_diff(g_fused.back(), Tensor::zeros(g_fused.back().shape())) == 0.f);   // expert 3 served nobody
  }
}

TEST_CASE("routed experts: finite-difference gradients of the fused op") {
  const Case c = make_case(true);
  CHECK_GRAD([&](const std::vector<Tensor>& in) { return routed_experts(in[0], in[1], c.k, c.slots, c.w); }, {c.x.detach(), c.g.detach()});
}

TEST_CASE("routed experts: B then W (with what B kept) equals the full backward bit for bit") {
  for (bool drop : {false, true}) {
    const Case c = make_case(drop);
    const Tensor gout = test::rnd({10, 8}, 4);
    // x and g are computed from leaves, as a block's are, so B reaches them and defers the weights.
    auto run = [&](bool split) {
      const Tensor x = mul_scalar(c.x, 1.f), g = mul_scalar(c.g, 1.f);
      const Tensor y = routed_experts(x, g, c.k, c.slots, c.w);
      return grads(c, y, gout, [&](const Tensor& out, const Tensor& go) {
        if (!split) return out.backward(go);
        WeightGradWork w = backward_inputs({out}, {go}, {c.x, c.g});
        CHECK(!c.w.down_proj[0].grad().defined());   // deferred to W
        CHECK(c.x.grad().defined());                 // B reached the input leaf through x
        w.run();
      });
    };
    const auto full = run(false), split = run(true);
    for (size_t i = 0; i < full.size(); ++i) CHECK_MESSAGE(test::max_abs_diff(full[i], split[i]) == 0.f, "input " << i);
  }
}
