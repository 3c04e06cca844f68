#include <doctest/doctest.h>

#include "ch05/fp8_linear.hpp"
#include "common/autograd.hpp"
#include "common/gradcheck.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch05;

TEST_CASE("fp8_linear: the three GEMMs read fine-grained FP8 operands; the gradient passes straight through") {
  Rng rng(1);
  const Tensor x0 = randn({2, 70, 200}, rng), w0 = randn({150, 200}, rng, 0.1f), dy = randn({2, 70, 150}, rng);
  for (bool fine : {true, false}) {
    const Granularity act = fine ? Granularity::Tile1x128 : Granularity::PerTensor, wgt = fine ? Granularity::Block128x128 : Granularity::PerTensor;
    Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_();
    const Tensor y = fp8_linear(x, w, {fine, Fp8Format::E4M3});
    y.backward(dy);
    // The surrogate, spelled out with the already gradient-checked ds::linear and matmul:
    const Tensor xq = fake_quantize(reshape(x0, {140, 200}), act), wq = fake_quantize(w0, wgt);
    const Tensor gq = fake_quantize(reshape(dy, {140, 150}), act);
    NoGradGuard ng;
    CHECK(test::max_abs_diff(reshape(y, {140, 150}), linear(xq, wq)) == 0.f);
    CHECK(test::max_abs_diff(reshape(x.grad(), {140, 200}), matmul(gq, wq)) < 1e-5f);
    CHECK(test::max_abs_diff(w.grad(), matmul(transpose(gq, 0, 1), xq)) < 1e-4f);
    // and it stays close to full precision: E4M3 keeps about 2-3% per operand
    const Tensor exact = linear(reshape(x0, {140, 200}), w0);
    double num = 0, den = 0;
    for (int64_t i = 0; i < exact.numel(); ++i) {
      num += std::pow(exact.data()[i] - reshape(y, {140, 150}).data()[i], 2);
      den += std::pow(exact.data()[i], 2);
    }
    CHECK(std::sqrt(num / den) < 0.06);
  }
}

TEST_CASE("fp8_linear: the finite-difference check of the float32 path it replaces, and Fp8Autocast swaps every Linear") {
  Rng rng(2);
  Linear lin(24, 16, rng, 0.3f);
  const Tensor x = randn({3, 24}, rng);
  const auto res = gradcheck([&](const std::vector<Tensor>& in) { return lin.forward(in[0]); }, {x});
  CHECK_MESSAGE(res.ok, res.worst);   // outside the autocast: ds::linear, gradient-checked
  const Tensor plain = lin.forward(x);
  {
    Fp8Autocast fp8({true, Fp8Format::E4M3});
    const Tensor q = lin.forward(x);
    CHECK(test::max_abs_diff(q, fp8_linear(x, lin.weight)) == 0.f);
    CHECK(test::max_abs_diff(q, plain) > 0.f);
    CHECK(q.grad_fn()->name == "fp8_linear");
  }
  CHECK(test::max_abs_diff(lin.forward(x), plain) == 0.f);   // the override ends with its scope
}
