#include <doctest/doctest.h>

#include <cmath>

#include "ch04/balance_rules.hpp"
#include "ch04/moe_model.hpp"
#include "common/autograd.hpp"
#include "common/gradcheck.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch04;

namespace {
// Two sequences of two tokens, two experts, one chosen per token: sequence A sends both tokens
// to expert 0, sequence B both to expert 1. The batch as a whole is perfectly balanced; each
// sequence on its own is not.
Routing skewed_sequences() {
  Routing r;
  r.scores = Tensor::from({0.6f, 0.2f, 0.3f, 0.3f, 0.1f, 0.3f, 0.2f, 0.2f}, {4, 2});
  r.experts = IntTensor({0, 0, 1, 1}, {4, 1});
  return r;
}
}  // namespace

TEST_CASE("load metrics: MaxVio and load entropy by hand") {
  CHECK(max_violation({4, 4, 4, 4}) == 0.0);
  CHECK(max_violation({8, 4, 2, 2}) == doctest::Approx(1.0));   // mean 4, max 8
  CHECK(load_entropy({3, 3, 3}) == doctest::Approx(1.0));
  CHECK(load_entropy({9, 0, 0}) == doctest::Approx(0.0));
  const std::vector<double> two_of_four = {5.0, 5.0, 0.0, 0.0};
  CHECK(load_entropy(two_of_four) == doctest::Approx(0.5));    // log 2 / log 4
  CHECK(expert_load(IntTensor({0, 2, 2, 1, 2, 0}, {3, 2}), 4) == std::vector<double>{2, 1, 3, 0});
}

TEST_CASE("balance losses: the batch-level and the sequence-wise loss against hand values") {
  const Routing r = skewed_sequences();
  // s' rows: (.75,.25) (.5,.5) (.25,.75) (.5,.5).
  // Batch: f = 2/(1*4) * (2, 2) = (1, 1), P = (.5, .5): alpha * 1, the balanced minimum.
  CHECK(balance_loss(r, 4, 0.1f).item() == doctest::Approx(0.1));
  // Sequence A: f = (2, 0), P = (.625, .375) -> 1.25; sequence B mirrors it: alpha * 1.25.
  CHECK(balance_loss(r, 2, 0.1f).item() == doctest::Approx(0.125));
  CHECK_THROWS_AS(balance_loss(r, 3, 0.1f), std::invalid_argument);
}

TEST_CASE("balance losses: finite-difference gradient through the scores and through a gate") {
  const IntTensor experts({0, 0, 1, 1}, {4, 1});
  const Tensor s = add_scalar(mul_scalar(test::rnd({4, 2}, 4), 0.2f), 0.5f);
  Rng rng(4);   // positive, like sigmoid scores
  for (int64_t t : {2, 4}) {
    const auto res = gradcheck(
        [&](const std::vector<Tensor>& in) {
          Routing r{experts, Tensor(), in[0]};
          return balance_loss(r, t, 0.5f);
        },
        {s});
    CHECK_MESSAGE(res.ok, res.worst);
  }
  GateConfig gc;
  gc.hidden_size = 6;
  gc.n_routed_experts = 4;
  gc.init_std = 0.5f;
  Gate gate(gc, rng);
  const Tensor x = randn({6, 6}, rng);
  const auto res = gradcheck_params([&] { return balance_loss(gate.forward(x), 3, 0.5f); }, gate.named_parameters());
  CHECK_MESSAGE(res.ok, res.worst);
}

TEST_CASE("aux-loss-free balancing: the sign rule moves the bias without gradients and evens a skewed router") {
  GateConfig gc;
  gc.hidden_size = 16;
  gc.n_routed_experts = 8;
  gc.num_experts_per_tok = 2;
  Rng rng(5);
  Gate gate(gc, rng);
  const Tensor x = randn({256, 16}, rng);
  // Skew: expert 0's affinity vector points along the inputs' mean, so it wins most tokens.
  for (int64_t c = 0; c < 16; ++c) gate.weight.data()[c] = 0.6f;
  const Tensor x_shift = add_scalar(x, 0.5f);
  CHECK(gate.named_parameters().size() == 1);   // the bias is a buffer: the optimizer never sees it
  const std::vector<float> w_before = gate.weight.to_vector();
  const double vio0 = max_violation(expert_load(gate.forward(x_shift).experts, 8));
  CHECK(vio0 > 1.5);
  std::vector<double> load;
  for (int step = 0; step < 300; ++step) {
    NoGradGuard ng;
    load = expert_load(gate.forward(x_shift).experts, 8);
    update_bias(gate, load, 2e-3f);
  }
  CHECK(max_violation(load) < 0.5 * vio0);
  CHECK(gate.weight.to_vector() == w_before);
  CHECK(!gate.weight.grad().defined());
  CHECK(gate.e_score_correction_bias.data()[0] < 0.f);   // the hog lost bias
  // one step moves every bias by exactly gamma, towards the mean load
  const std::vector<float> b0 = gate.e_score_correction_bias.to_vector();
  update_bias(gate, {10, 2, 6, 6, 6, 6, 6, 6}, 0.25f);
  CHECK(gate.e_score_correction_bias.data()[0] == doctest::Approx(b0[0] - 0.25f));
  CHECK(gate.e_score_correction_bias.data()[1] == doctest::Approx(b0[1] + 0.25f));
  CHECK(gate.e_score_correction_bias.data()[2] == doctest::Approx(b0[2]));
}

TEST_CASE("capacity factor: an overloaded expert keeps its strongest tokens, the rest are dropped") {
  MoEConfig c;
  c.gate.hidden_size = 8;
  c.gate.n_routed_experts = 8;
  c.gate.num_experts_per_tok = 2;
  c.gate.init_std = 0.5f;
  c.moe_intermediate_size = 4;
  c.n_shared_experts = 0;
  Rng rng(6);
  MoE free_moe(c, rng);
  c.capacity_factor = 1.f;
  Rng rng2(6);
  MoE capped(c, rng2);
  for (MoE* m : {&free_moe, &capped}) m->gate.e_score_correction_bias.data()[3] = 10.f;   // every token picks expert 3
  const Tensor x = randn({6, 8}, rng);
  const RoutingLog free_log({&free_moe}), capped_log({&capped});
  const Tensor y_free = free_moe.forward(x), y_cap = capped.forward(x);
  const std::vector<double> load = expert_load(capped_log.entries(0).at(0).routing.experts, 8);
  int64_t expected = 0;
  for (double l : load) expected += std::max<int64_t>(0, static_cast<int64_t>(l) - 2);   // capacity ceil(12 / 8) = 2
  CHECK(load[3] == 6);
  CHECK(capped_log.entries(0).at(0).dropped == expected);
  CHECK(free_log.entries(0).at(0).dropped == 0);
  const auto grads = gradcheck_params([&] { return capped.forward(x); }, capped.named_parameters());
  CHECK_MESSAGE(grads.ok, grads.worst);
  // The two kept tokens of expert 3 are the ones with its largest weights; dropped tokens lose
  // expert 3's contribution exactly.
  const Routing r = capped_log.entries(0).at(0).routing;
  std::vector<std::pair<float, int64_t>> w3;
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t s = 0; s < 2; ++s)
      if (r.experts[i * 2 + s] == 3) w3.push_back({r.weights.data()[i * 2 + s], i});
  std::sort(w3.rbegin(), w3.rend());
  const Tensor e3 = capped.experts[3]->forward(x);
  for (size_t q = 2; q < w3.size(); ++q) {
    const int64_t i = w3[q].second;
    bool other_dropped = false;
    for (int64_t s = 0; s < 2; ++s) other_dropped |= r.experts[i * 2 + s] != 3 && load[static_cast<size_t>(r.experts[i * 2 + s])] > 2;
    if (other_dropped) continue;
    for (int64_t ch = 0; ch < 8; ++ch)
      CHECK(y_free.data()[i * 8 + ch] - y_cap.data()[i * 8 + ch] == doctest::Approx(w3[q].first * e3.data()[i * 8 + ch]).epsilon(1e-4));
  }
}
