#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

TEST_CASE("autograd: a shared subexpression accumulates both paths") {
  Tensor x = Tensor::from({3.f}, {1}).requires_grad_();
  Tensor y = mul(x, x);                 // x^2
  Tensor z = add(mul(y, x), y);         // x^3 + x^2
  sum(z).backward();
  CHECK(x.grad().item() == doctest::Approx(3 * 9 + 2 * 3));
}

TEST_CASE("autograd: gradients accumulate across backward calls until zero_grad") {
  Tensor w = Tensor::from({1.f, 2.f}, {2}).requires_grad_();
  sum(mul_scalar(w, 3.f)).backward();
  sum(mul_scalar(w, 3.f)).backward();
  CHECK(w.grad().to_vector() == std::vector<float>{6, 6});
  w.zero_grad();
  CHECK(!w.grad().defined());
}

TEST_CASE("autograd: NoGradGuard records nothing, a freed graph says so") {
  Tensor w = Tensor::from({1.f}, {1}).requires_grad_();
  {
    NoGradGuard ng;
    CHECK(!mul(w, w).requires_grad());
  }
  Tensor l = sum(mul(w, w));
  l.backward();
  CHECK_THROWS_AS(l.backward(), std::logic_error);
  Tensor l2 = sum(mul(w, w));
  backward({l2}, {Tensor::ones({})}, true);
  CHECK_NOTHROW(l2.backward());
}

TEST_CASE("autograd: split backward (B then W) equals one full backward") {
  // a two-layer "stage": x is the received activation, w1 and w2 the stage's parameters
  const Tensor x0 = rnd({4, 6}, 1), w10 = rnd({5, 6}, 2), w20 = rnd({3, 5}, 3), gy = rnd({4, 3}, 4);
  auto run = [&](bool split) {
    Tensor x = x0.clone().requires_grad_(), w1 = w10.clone().requires_grad_(), w2 = w20.clone().requires_grad_();
    Tensor y = linear(silu(rms_norm(linear(x, w1), Tensor::ones({5}), 1e-6f)), w2);
    if (!split) {
      y.backward(gy);
      return std::vector<Tensor>{x.grad(), w1.grad(), w2.grad()};
    }
    WeightGradWork w = backward_inputs({y}, {gy}, {x});
    CHECK(x.grad().defined());
    CHECK(!w1.grad().defined());   // deferred
    CHECK(!w2.grad().defined());
    CHECK(w.size() >= 2);
    w.run();
    return std::vector<Tensor>{x.grad(), w1.grad(), w2.grad()};
  };
  const auto full = run(false), split = run(true);
  for (size_t i = 0; i < 3; ++i) CHECK(test::max_abs_diff(full[i], split[i]) == 0.f);
}

TEST_CASE("gradcheck catches a wrong backward") {
  auto wrong = [](const std::vector<Tensor>& x) {
    Tensor out = mul_scalar(x[0], 2.f).detach();
    const Tensor in = x[0];
    return record(out, {in}, "wrong", [](const Tensor& g, const std::vector<bool>&, std::vector<Tensor>& gin) {
      gin[0] = mul_scalar(g, 1.9f);   // should be 2
    });
  };
  CHECK(!gradcheck(wrong, {rnd({5}, 1)}).ok);
}

TEST_CASE("op_profile: counts each recorded op's forward calls and times forward and backward, only while started") {
  const Tensor w = rnd({64, 32}, 1).requires_grad_();
  const Tensor x = rnd({16, 32}, 2);
  const auto step = [&] { sum(relu(linear(x, w))).backward(); };
  step();   // before start(): nothing counted
  op_profile::start();
  for (int i = 0; i < 3; ++i) {
    op_profile::mark();
    step();
  }
  op_profile::stop();
  step();   // after stop(): nothing counted
  const std::vector<op_profile::Entry> e = op_profile::entries();
  const auto find = [&](const std::string& op) {
    for (const auto& x : e)
      if (x.op == op) return x;
    FAIL("op " << op << " not in the profile");
    return op_profile::Entry{};
  };
  for (const char* op : {"linear", "relu", "sum"}) {
    const op_profile::Entry l = find(op);
    CHECK(l.calls == 3);
    CHECK(l.forward_s > 0);
    CHECK(l.backward_s > 0);
  }
  CHECK(e.size() == 3);
  op_profile::start();   // start() clears the table
  CHECK(op_profile::entries().empty());
  op_profile::stop();
}
