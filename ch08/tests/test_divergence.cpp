// The divergences of distillation: gradients against finite differences, the ends of the JSD
// family, and Hinton's T^2 scaling.
#include <cmath>

#include "ch08/divergence.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch08;
using ds::test::rnd;

namespace {
double norm(const Tensor& g) {
  double s = 0;
  for (int64_t i = 0; i < g.numel(); ++i) s += double(g[i]) * g[i];
  return std::sqrt(s);
}
// d(sum of the divergence)/d(student logits)
Tensor grad_of(const Tensor& student, const Tensor& teacher, const DivergenceOptions& o) {
  Tensor s = student.clone().requires_grad_();
  sum(token_divergence(s, teacher, o)).backward();
  return s.grad();
}
}  // namespace

TEST_CASE("token_divergence: gradient against finite differences for forward KL, JSD and reverse KL at two temperatures") {
  const Tensor teacher = rnd({4, 7}, 2, 1.5f);
  for (float beta : {0.f, 0.3f, 0.8f, 1.f})
    for (float t : {1.f, 2.5f}) {
      INFO("beta " << beta << " T " << t);
      CHECK_GRAD([&](const std::vector<Tensor>& x) { return token_divergence(x[0], teacher, {.beta = beta, .temperature = t}); }, {rnd({4, 7}, 1, 1.5f)});
    }
}

TEST_CASE("token_divergence: zero when the student equals the teacher, positive otherwise, and the teacher gets no gradient") {
  const Tensor s = rnd({3, 11}, 3), t = rnd({3, 11}, 4);
  for (float beta : {0.f, 0.5f, 1.f}) {
    const Tensor same = token_divergence(s, s, {.beta = beta, .temperature = 2.f});
    const Tensor diff = token_divergence(s, t, {.beta = beta, .temperature = 2.f});
    for (int64_t r = 0; r < 3; ++r) {
      CHECK(std::abs(same[r]) < 1e-6f);
      CHECK(diff[r] > 1e-3f);
    }
  }
  Tensor teacher = t.clone().requires_grad_();
  Tensor student = s.clone().requires_grad_();
  sum(token_divergence(student, teacher, {.beta = 0.5f})).backward();
  CHECK(student.grad().defined());
  CHECK_FALSE(teacher.grad().defined());
}

TEST_CASE("JSD beta 0 and 1 are forward and reverse KL: the interior family tends to them at both ends") {
  const Tensor s = rnd({5, 13}, 5, 2.f), t = rnd({5, 13}, 6, 2.f);
  const Tensor fwd = token_divergence(s, t, {.beta = 0.f}), rev = token_divergence(s, t, {.beta = 1.f});
  // The ends against independent computations: beta 0 is the core's distill_kl, and reverse KL
  // is forward KL with the roles swapped.
  const Tensor core = distill_kl(s, t, 1.f), swapped = distill_kl(t, s, 1.f);
  for (int64_t r = 0; r < 5; ++r) {
    CHECK(fwd[r] == core[r]);
    CHECK(rev[r] == doctest::Approx(swapped[r]).epsilon(1e-5));
    CHECK(std::abs(fwd[r] - rev[r]) > 1e-3f);   // the two differ: the test would see a swap
  }
  // JSD(beta) = beta KL(p||q) + O(beta^2) and (1 - beta) KL(q||p) + O((1 - beta)^2).
  const float eps = 1e-3f;
  const Tensor near0 = token_divergence(s, t, {.beta = eps}), near1 = token_divergence(s, t, {.beta = 1.f - eps});
  for (int64_t r = 0; r < 5; ++r) {
    CHECK(near0[r] / eps == doctest::Approx(fwd[r]).epsilon(0.02));
    CHECK(near1[r] / eps == doctest::Approx(rev[r]).epsilon(0.02));
  }
}

TEST_CASE("T^2 keeps the soft target's gradient on one scale across temperatures, and matches Hinton's high-T limit") {
  const Tensor s = rnd({6, 10}, 7), t = rnd({6, 10}, 8);
  // Without the T^2 factor the gradient shrinks as 1/T^2; with it, it tends to a constant.
  const double g4 = norm(grad_of(s, t, {.temperature = 4.f})), g16 = norm(grad_of(s, t, {.temperature = 16.f}));
  CHECK(g16 / g4 == doctest::Approx(1.0).epsilon(0.1));
  const double unscaled_ratio = (g16 / 256.0) / (g4 / 16.0);
  CHECK(unscaled_ratio == doctest::Approx(1.0 / 16).epsilon(0.1));
  // Hinton et al. eq. 4: at high T, d/ds_j = T (q_j - p_j) -> (s_j - t_j - mean(s - t)) / V.
  const float big_t = 1000.f;
  const Tensor g = grad_of(s, t, {.temperature = big_t});
  for (int64_t r = 0; r < 6; ++r) {
    double mean = 0;
    for (int64_t j = 0; j < 10; ++j) mean += s[r * 10 + j] - t[r * 10 + j];
    mean /= 10;
    // The next term is O(logit^2 / (V T)), 2e-4 here, against first-order terms of about 0.1.
    for (int64_t j = 0; j < 10; ++j) CHECK(std::abs(g[r * 10 + j] - (s[r * 10 + j] - t[r * 10 + j] - mean) / 10) < 5e-4);
  }
}

TEST_CASE("token_divergence refuses a beta outside [0, 1], a non-positive temperature and mismatched logits") {
  const Tensor s = rnd({2, 5}, 1), t = rnd({2, 5}, 2);
  CHECK_THROWS_AS(token_divergence(s, t, {.beta = 1.5f}), std::invalid_argument);
  CHECK_THROWS_AS(token_divergence(s, t, {.beta = 0.5f, .temperature = 0.f}), std::invalid_argument);
  CHECK_THROWS(token_divergence(s, rnd({2, 6}, 3), {.beta = 0.5f}));
}
