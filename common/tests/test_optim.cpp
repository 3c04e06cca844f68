#include <cmath>

#include "common/ops.hpp"
#include "common/optim.hpp"
#include "test_helpers.hpp"

using namespace ds;

TEST_CASE("adamw: first step moves each weight by lr against the gradient sign, decay is decoupled") {
  Tensor w = Tensor::from({1.f, -1.f}, {1, 2}).requires_grad_();
  AdamWConfig cfg;
  cfg.lr = 0.1f;
  cfg.weight_decay = 0.5f;
  AdamW opt({{"w", w}}, cfg);
  w.set_grad(Tensor::from({3.f, -0.001f}, {1, 2}));
  opt.step();
  // mhat/sqrt(vhat) = sign(g) on step 1; decay adds lr * wd * w
  CHECK(w.data()[0] == doctest::Approx(1.f - 0.1f * (1.f + 0.5f * 1.f)).epsilon(1e-5));
  CHECK(w.data()[1] == doctest::Approx(-1.f - 0.1f * (-1.f + 0.5f * -1.f)).epsilon(1e-3));
  CHECK(opt.step_count() == 1);
  CHECK(opt.state().size() == 2);
}

TEST_CASE("adamw: 1-D parameters are not decayed by default, state round trip") {
  Tensor b = Tensor::from({2.f}, {1}).requires_grad_();
  AdamW opt({{"norm.weight", b}}, AdamWConfig{});
  b.set_grad(Tensor::zeros({1}));
  opt.step();
  CHECK(b.item() == 2.f);
  AdamW other({{"norm.weight", b}}, AdamWConfig{});
  other.load_state(opt.state(), opt.step_count());
  CHECK(other.step_count() == 1);
  CHECK_THROWS_AS(other.load_state({}, 1), std::runtime_error);
}

TEST_CASE("clip_grad_norm: scales to the max norm, returns the norm before") {
  Tensor a = Tensor::zeros({2}).requires_grad_(), b = Tensor::zeros({1}).requires_grad_();
  a.set_grad(Tensor::from({3, 0}, {2}));
  b.set_grad(Tensor::from({4}, {1}));
  CHECK(clip_grad_norm({a, b}, 1.f) == doctest::Approx(5.f));
  CHECK(grad_norm({a, b}) == doctest::Approx(1.f).epsilon(1e-5));
  CHECK(clip_grad_norm({a, b}, 10.f) == doctest::Approx(1.f).epsilon(1e-5));   // below: untouched
}

TEST_CASE("schedules: warmup, cosine end points, WSD plateau and decay") {
  CHECK(lr_warmup_cosine(0, 10, 100, 1.f, 0.1f) == doctest::Approx(0.1f));
  CHECK(lr_warmup_cosine(9, 10, 100, 1.f, 0.1f) == doctest::Approx(1.f));
  CHECK(lr_warmup_cosine(55, 10, 100, 1.f, 0.1f) == doctest::Approx(0.55f));
  CHECK(lr_warmup_cosine(100, 10, 100, 1.f, 0.1f) == doctest::Approx(0.1f));
  CHECK(lr_warmup_stable_decay(50, 10, 100, 1.f, 0.f) == 1.f);
  CHECK(lr_warmup_stable_decay(90, 10, 100, 1.f, 0.f) == doctest::Approx(0.5f));
}

TEST_CASE("ema: moves toward the parameters by (1 - decay)") {
  Rng rng(1);
  Linear lin(2, 1, rng);
  lin.weight.fill_(0.f);
  EMA ema(lin, 0.9f);
  lin.weight.fill_(1.f);
  ema.update(lin);
  Linear out(2, 1, rng);
  ema.copy_to(out);
  CHECK(out.weight.data()[0] == doctest::Approx(0.1f));
}
