#include <doctest/doctest.h>

#include <cstring>
#include <stdexcept>

#include "common/autograd.hpp"
#include "common/memory.hpp"
#include "common/nn.hpp"
#include "common/ops.hpp"
#include "common/recompute.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using test::rnd;

namespace {
// Two outputs from one input x [2, 3, 8] and a weight w [5, 8]: the linear and the RMSNorm
// of x (a unit norm weight), so a region with a shared input and more than one output.
std::vector<Tensor> two_outputs(const std::vector<Tensor>& in) {
  return {silu(linear(in[0], in[1])), rms_norm(in[0], Tensor::ones({8}), 1e-6f)};
}

// A module whose weights the region reads directly (as the model's norms and projections do).
struct NormThenLinear : Module {
  RMSNorm norm{8};
  Linear proj;
  explicit NormThenLinear(Rng& rng) : proj(8, 6, rng, 0.3f) {
    register_module("norm", norm);
    register_module("proj", proj);
    init::normal_(norm.weight, rng, 0.5f);
  }
  Tensor operator()(const Tensor& x) const { return proj.forward(norm.forward(x)); }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.defined() && b.defined() && a.shape() == b.shape() && std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

// linear(m(x), w2) with m in a recomputed region (its output discarded when `discard`) or plain.
Tensor through(const NormThenLinear& m, const Tensor& x, const Tensor& w2, bool recompute, bool discard) {
  if (!recompute) return linear(m(x), w2);
  Checkpoint region([&m](const std::vector<Tensor>& in) { return std::vector<Tensor>{m(in[0])}; }, {x}, m.parameters(), "test");
  const Tensor y = linear(region.output(0), w2);
  if (discard) region.discard(y);
  return y;
}

// Backward of sum(through(...)^2): returns x's gradient, the module's are left in its parameters.
Tensor run(NormThenLinear& m, const Tensor& x0, const Tensor& w2, bool recompute, bool discard) {
  m.zero_grad();
  Tensor x = x0.clone().requires_grad_();
  const Tensor y = through(m, x, w2, recompute, discard);
  sum(mul(y, y)).backward();
  return x.grad();
}

// The plain graph's gradients: x's, the norm's and the projection's.
struct PlainGrads {
  Tensor x, norm, proj;
};
PlainGrads plain_grads(NormThenLinear& m, const Tensor& x, const Tensor& w2) {
  const Tensor gx = run(m, x, w2, false, false);
  return {gx, m.norm.weight.grad().clone(), m.proj.weight.grad().clone()};
}
}  // namespace

TEST_CASE("recompute: finite differences agree with a region's backward, one output and two") {
  CHECK_GRAD([](const std::vector<Tensor>& in) {
    Checkpoint region(two_outputs, in, {}, "two");
    return concat({region.output(0), region.output(1)}, -1);
  }, {rnd({2, 3, 8}, 1), rnd({5, 8}, 2, 0.4f)});
  Rng rng(3);
  NormThenLinear m(rng);
  const Tensor x = rnd({2, 3, 8}, 4), w2 = rnd({4, 6}, 5, 0.4f);
  for (bool discard : {false, true}) {
    CAPTURE(discard);
    const auto gc = gradcheck_params([&] { return through(m, x, w2, true, discard); }, m.named_parameters());
    INFO(gc.worst);
    CHECK(gc.ok);
    CHECK_GRAD([&](const std::vector<Tensor>& in) { return through(m, in[0], w2, true, discard); }, {x});
  }
}

TEST_CASE("recompute: the same gradients bit for bit as the plain graph, kept or discarded") {
  Rng rng(6);
  NormThenLinear m(rng);
  const Tensor x = rnd({3, 5, 8}, 7), w2 = rnd({4, 6}, 8, 0.4f);
  const PlainGrads ref = plain_grads(m, x, w2);
  for (bool discard : {false, true}) {
    CAPTURE(discard);
    CHECK(same_bits(run(m, x, w2, true, discard), ref.x));
    CHECK(same_bits(m.norm.weight.grad(), ref.norm));
    CHECK(same_bits(m.proj.weight.grad(), ref.proj));
  }
}

TEST_CASE("recompute: the region keeps only its inputs, discard frees the output until the consumer's backward") {
  Rng rng(9);
  NormThenLinear m(rng);
  const Tensor x = rnd({4, 16, 8}, 10).requires_grad_(), w2 = rnd({4, 6}, 11, 0.4f);
  const int64_t normed = 4 * 16 * 8 * 4, projected = 4 * 16 * 6 * 4;   // bytes of the norm's and the region's output
  const int64_t base = memory::live_bytes();
  int64_t plain = 0;
  {
    const Tensor y = linear(m(x), w2);   // keeps the norm's output (read by proj) and the projection (read by linear)
    plain = memory::live_bytes() - base;
  }
  Checkpoint region([&m](const std::vector<Tensor>& in) { return std::vector<Tensor>{m(in[0])}; }, {x}, m.parameters(), "test");
  const Tensor y = linear(region.output(0), w2);
  const int64_t kept = memory::live_bytes() - base;
  CHECK(plain - kept == normed - 4);   // nothing inside the region is on the tape; its node hangs off one float
  region.discard(y);
  CHECK(kept - (memory::live_bytes() - base) == projected);
  CHECK(region.output(0).impl()->storage->discarded());
  sum(y).backward();
  CHECK(m.proj.weight.grad().defined());
  CHECK_FALSE(region.output(0).impl()->storage->discarded());   // put back for linear's backward
}

TEST_CASE("recompute: a split backward (B then W) equals one full backward, parameters deferred to W") {
  Rng rng(12);
  NormThenLinear m(rng);
  const Tensor x0 = rnd({2, 4, 8}, 13), w2 = rnd({4, 6}, 14, 0.4f);
  const PlainGrads ref = plain_grads(m, x0, w2);
  m.zero_grad();
  Tensor x = x0.clone().requires_grad_();
  const Tensor y = through(m, x, w2, true, true);
  const Tensor loss = sum(mul(y, y));
  WeightGradWork w = backward_inputs({loss}, {Tensor::ones({})}, {x});
  CHECK(same_bits(x.grad(), ref.x));
  CHECK_FALSE(m.norm.weight.grad().defined());   // the region's parameters wait for W
  CHECK_FALSE(w.empty());
  w.run();
  CHECK(same_bits(m.norm.weight.grad(), ref.norm));
  CHECK(same_bits(m.proj.weight.grad(), ref.proj));
}

TEST_CASE("recompute: without grad a region is its function, and an output sharing an input's storage is not discarded") {
  const Tensor x = rnd({2, 8}, 15).requires_grad_(), w = rnd({5, 8}, 16);
  {
    NoGradGuard ng;
    Checkpoint region(two_outputs, {x, w}, {}, "two");
    CHECK_FALSE(region.output(0).requires_grad());
    region.discard(region.output(0));   // nothing recorded: a no-op
    CHECK_FALSE(region.output(0).impl()->storage->discarded());
  }
  Checkpoint view([](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0].detach()}; }, {x}, {}, "view");
  const Tensor y = mul(view.output(0), view.output(0));
  CHECK_THROWS_AS(view.discard(y), std::logic_error);
}
