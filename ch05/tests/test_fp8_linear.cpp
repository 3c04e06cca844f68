#include <doctest/doctest.h>

#include "ch04/moe.hpp"
#include "ch05/fp8_linear.hpp"
#include "common/autograd.hpp"
#include "common/dtype.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch05;

TEST_CASE("fp8_linear: the three GEMMs read FP8 operands scaled along their inner dimension, the gradient passes straight through") {
  Rng rng(1);
  const Tensor x0 = randn({2, 150, 200}, rng), w0 = randn({150, 200}, rng, 0.1f), dy = randn({2, 150, 150}, rng);
  for (bool fine : {true, false}) {
    INFO((fine ? "fine-grained" : "per-tensor"));
    auto q = [&](const Tensor& t, Granularity g) { return fake_quantize(t, fine ? g : Granularity::PerTensor); };
    Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_();
    const Tensor y = fp8_linear(x, w, {fine, Fp8Format::E4M3});
    y.backward(dy);
    // The straight-through definition, spelled out with the finite-difference-checked ds::linear and matmul:
    const Tensor x2 = reshape(x0, {300, 200}), dy2 = reshape(dy, {300, 150});
    const Tensor xq = q(x2, Granularity::Tile1x128), wq = q(w0, Granularity::Block128x128);
    NoGradGuard ng;
    CHECK(test::max_abs_diff(reshape(y, {300, 150}), linear(xq, wq)) == 0.f);                                        // Fprop
    CHECK(test::max_abs_diff(reshape(x.grad(), {300, 200}), matmul(q(dy2, Granularity::Tile1x128), wq)) < 1e-5f);   // Dgrad
    const Tensor wgrad = matmul(transpose(q(dy2, Granularity::Tile128x1), 0, 1), q(xq, Granularity::Tile128x1));
    CHECK(test::max_abs_diff(w.grad(), wgrad) < 1e-4f);                                                               // Wgrad
    // and it stays close to full precision: E4M3 keeps about 2-3% per operand
    const Tensor exact = linear(x2, w0);
    CHECK(std::sqrt(sum(square(sub(exact, reshape(y, {300, 150})))).item() / sum(square(exact)).item()) < 0.06);
    const Tensor wgrad_exact = matmul(transpose(dy2, 0, 1), x2);
    CHECK(std::sqrt(sum(square(sub(wgrad_exact, w.grad()))).item() / sum(square(wgrad_exact)).item()) < 0.06);
  }
}

TEST_CASE("fp8_linear: finite-difference gradient check of its backward with the rounding switched off") {
  Rng rng(3);
  const Tensor x = randn({2, 3, 24}, rng), w = randn({16, 24}, rng, 0.3f);
  CHECK_GRAD([](const std::vector<Tensor>& in) { return fp8_linear(in[0], in[1], {true, Fp8Format::E4M3, false}); }, {x, w});
  CHECK_GRAD([](const std::vector<Tensor>& in) { return fp8_linear(in[0], in[1], {false, Fp8Format::E4M3, false}); }, {x, w});
}

TEST_CASE("fp8_linear: Fp8Autocast swaps every Linear while alive, and nests") {
  Rng rng(2);
  Linear lin(24, 16, rng, 0.3f);
  const Tensor x = randn({3, 24}, rng);
  const Tensor plain = lin.forward(x);
  {
    Fp8Autocast fp8({true, Fp8Format::E4M3});
    const Tensor q = lin.forward(x);
    CHECK(test::max_abs_diff(q, fp8_linear(x, lin.weight)) == 0.f);
    CHECK(test::max_abs_diff(q, plain) > 0.f);
    CHECK(q.grad_fn()->name == "fp8_linear");
    {
      Fp8Autocast e5m2({true, Fp8Format::E5M2});   // the innermost one wins
      CHECK(test::max_abs_diff(lin.forward(x), fp8_linear(x, lin.weight, {true, Fp8Format::E5M2})) == 0.f);
    }
    CHECK(test::max_abs_diff(lin.forward(x), q) == 0.f);
  }
  CHECK(test::max_abs_diff(lin.forward(x), plain) == 0.f);   // the override ends with its scope
}

TEST_CASE("bf16_linear: V3's baseline rounds every operand to bfloat16, with the same straight-through backward") {
  Rng rng(4);
  const Tensor x0 = randn({40, 24}, rng), w0 = randn({16, 24}, rng, 0.3f), dy = randn({40, 16}, rng);
  auto bf16 = [](const Tensor& t) {
    Tensor o = t.detach().clone();
    for (int64_t i = 0; i < o.numel(); ++i) o.data()[i] = round_to_bf16(o.data()[i]);
    return o;
  };
  Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_();
  const Tensor y = bf16_linear(x, w);
  y.backward(dy);
  NoGradGuard ng;
  CHECK(test::max_abs_diff(y, linear(bf16(x0), bf16(w0))) == 0.f);
  CHECK(test::max_abs_diff(x.grad(), matmul(bf16(dy), bf16(w0))) < 1e-5f);
  CHECK(test::max_abs_diff(w.grad(), matmul(transpose(bf16(dy), 0, 1), bf16(x0))) < 1e-5f);
  CHECK(test::max_abs_diff(y, linear(x0, w0)) > 0.f);
}

TEST_CASE("fp8_linear: Fp8Autocast reaches the routed experts (V3 runs their GEMMs in FP8), not the gate") {
  Rng rng(7);
  ch04::MoEConfig c;
  c.gate.hidden_size = 8;
  c.gate.n_routed_experts = 4;
  c.gate.num_experts_per_tok = 2;
  c.gate.init_std = 0.5f;
  c.moe_intermediate_size = 6;
  ch04::MoE moe(c, rng);
  for (auto& [name, p] : moe.named_parameters()) p.copy_(randn(p.shape(), rng, 0.7f));   // values FP8 visibly rounds
  const Tensor x = randn({10, 8}, rng);
  const Tensor plain = moe.forward(x);
  const ch04::Routing r_plain = moe.gate.forward(x);
  Fp8Autocast fp8({true, Fp8Format::E4M3});
  const ch04::Routing r = moe.gate.forward(x);
  CHECK(r.experts.data == r_plain.experts.data);   // the gate keeps full precision
  CHECK(test::max_abs_diff(r.weights, r_plain.weights) == 0.f);
  // Every expert on every token under the autocast, masked by the routing: each GEMM through fp8_linear.
  const int64_t k = c.gate.num_experts_per_tok;
  Tensor expected = moe.shared_experts->forward(x);
  for (size_t j = 0; j < moe.experts.size(); ++j) {
    Tensor coef = Tensor::zeros({10, 1});
    for (int64_t i = 0; i < 10; ++i)
      for (int64_t s = 0; s < k; ++s)
        if (r.experts[i * k + s] == static_cast<int32_t>(j)) coef.data()[i] = r.weights.data()[i * k + s];
    expected = add(expected, mul(moe.experts[j]->forward(x), coef));
  }
  const Tensor q = moe.forward(x);
  CHECK(test::max_abs_diff(q, expected) < 1e-5f);
  CHECK(test::max_abs_diff(q, plain) > 1e-3f);   // the experts' GEMMs were rounded
}
