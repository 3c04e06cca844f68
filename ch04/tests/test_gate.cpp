#include <doctest/doctest.h>

#include <cmath>

#include "ch04/gate.hpp"
#include "common/gradcheck.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch04;

namespace {
// One token's scores over 8 experts in 4 groups of 2: {0,1} {2,3} {4,5} {6,7}.
const std::vector<float> kScores = {0.9f, 0.1f, 0.2f, 0.3f, 0.8f, 0.7f, 0.05f, 0.6f};

GateConfig eight_experts(const std::string& method, int64_t groups, int64_t topk_groups) {
  GateConfig c;
  c.n_routed_experts = 8;
  c.num_experts_per_tok = 2;
  c.topk_method = method;
  c.n_group = groups;
  c.topk_group = topk_groups;
  return c;
}
}  // namespace

TEST_CASE("gate: greedy takes the k largest scores and ignores groups and bias (V2-Lite)") {
  std::vector<float> bias(8, 0.f);
  bias[6] = 0.8f;
  CHECK(select_experts(kScores, {}, eight_experts("greedy", 1, 1)) == std::vector<int32_t>{0, 4});
  CHECK(select_experts(kScores, bias, eight_experts("greedy", 4, 1)) == std::vector<int32_t>{0, 4});
}

TEST_CASE("gate: group_limited_greedy scores a group by its best expert (V2), noaux_tc by its two best biased scores (V3)") {
  // Group scores. V2's max: 0.9, 0.3, 0.8, 0.6. V3's top-2 sum: 1.0, 0.5, 1.5, 0.65.
  // One group allowed: V2 keeps group 0 -> experts {0, 1}; V3 keeps group 2 -> {4, 5}.
  CHECK(select_experts(kScores, {}, eight_experts("group_limited_greedy", 4, 1)) == std::vector<int32_t>{0, 1});
  CHECK(select_experts(kScores, {}, eight_experts("noaux_tc", 4, 1)) == std::vector<int32_t>{4, 5});
  // Two groups: both keep groups 0 and 2, and the best two of {0, 1, 4, 5} are 0 and 4.
  CHECK(select_experts(kScores, {}, eight_experts("group_limited_greedy", 4, 2)) == std::vector<int32_t>{0, 4});
  CHECK(select_experts(kScores, {}, eight_experts("noaux_tc", 4, 2)) == std::vector<int32_t>{0, 4});
  // A bias of 0.8 on expert 6 lifts its group {6, 7} to 0.85 + 0.6 = 1.45 under noaux_tc (second
  // after group 2's 1.5, so groups 2 and 3 stay) and expert 6 itself to 0.85, past expert 4 (0.8).
  std::vector<float> bias(8, 0.f);
  bias[6] = 0.8f;
  CHECK(select_experts(kScores, bias, eight_experts("noaux_tc", 1, 1)) == std::vector<int32_t>{0, 6});
  CHECK(select_experts(kScores, bias, eight_experts("noaux_tc", 4, 2)) == std::vector<int32_t>{6, 4});
  // group_limited_greedy has no bias: the same choice as without it.
  CHECK(select_experts(kScores, bias, eight_experts("group_limited_greedy", 4, 2)) == std::vector<int32_t>{0, 4});
}

TEST_CASE("gate: softmax scores, unnormalised weights times routed_scaling_factor (DeepSeek-V2)") {
  // x = [1, 0] and W's first column ln 4, ln 2, 0, 0: logits ln 4, ln 2, 0, 0, so
  // softmax = 4/8, 2/8, 1/8, 1/8. Experts 0 and 1 win; V2 (norm_topk_prob false, scale 16)
  // weighs them 16 * 0.5 = 8 and 16 * 0.25 = 4.
  GateConfig c;
  c.hidden_size = 2;
  c.n_routed_experts = 4;
  c.num_experts_per_tok = 2;
  c.scoring_func = "softmax";
  c.topk_method = "greedy";
  c.norm_topk_prob = false;
  c.routed_scaling_factor = 16.f;
  Rng rng(1);
  Gate g(c, rng);
  g.weight.copy_(Tensor::from({std::log(4.f), 0.f, std::log(2.f), 0.f, 0.f, 0.f, 0.f, 0.f}, {4, 2}));
  const Tensor x = Tensor::from({1.f, 0.f}, {1, 2});
  Routing r = g.forward(x);
  const std::vector<float> softmax_want = {0.5f, 0.25f, 0.125f, 0.125f};
  for (int64_t i = 0; i < 4; ++i) CHECK(r.scores.data()[i] == doctest::Approx(softmax_want[i]));
  CHECK(r.experts.data == std::vector<int32_t>{0, 1});
  CHECK(r.weights.data()[0] == doctest::Approx(8.f));
  CHECK(r.weights.data()[1] == doctest::Approx(4.f));
  // norm_topk_prob: 0.5 / 0.75 and 0.25 / 0.75, then the scale (as V3 applies it).
  c.norm_topk_prob = true;
  Gate normed(c, rng);
  normed.weight.copy_(g.weight);
  r = normed.forward(x);
  CHECK(r.weights.data()[0] == doctest::Approx(16.f * 2.f / 3.f));
  CHECK(r.weights.data()[1] == doctest::Approx(16.f / 3.f));
  // The weights are differentiable through the softmax (random weights: no ties to flip).
  c.hidden_size = 6;
  Gate random(c, rng);
  random.weight.copy_(randn({4, 6}, rng, 0.5f));
  const Tensor xs = randn({5, 6}, rng);
  const auto res = gradcheck_params([&] { return random.forward(xs).weights; }, random.named_parameters());
  CHECK_MESSAGE(res.ok, res.worst);
}

TEST_CASE("gate: sigmoid weights come from the unbiased scores, normalised, times the scaling factor") {
  GateConfig c = eight_experts("noaux_tc", 1, 1);
  c.hidden_size = 8;
  c.routed_scaling_factor = 2.5f;
  c.init_std = 0.5f;
  Rng rng(1);
  Gate g(c, rng);
  g.e_score_correction_bias.fill_(0.f);
  g.e_score_correction_bias.data()[3] = 10.f;   // forces expert 3 into every selection
  const Tensor x = randn({5, 8}, rng);
  const Routing r = g.forward(x);
  for (int64_t i = 0; i < 5; ++i) {
    CHECK((r.experts[i * 2] == 3 || r.experts[i * 2 + 1] == 3));
    const float a = r.scores.data()[i * 8 + r.experts[i * 2]], b = r.scores.data()[i * 8 + r.experts[i * 2 + 1]];
    float logit = 0;   // expert 0's affinity by hand: sigmoid(u_t . e_0) (V3 eq. 15)
    for (int64_t j = 0; j < 8; ++j) logit += x.data()[i * 8 + j] * g.weight.data()[j];
    CHECK(r.scores.data()[i * 8] == doctest::Approx(1.f / (1.f + std::exp(-logit))));
    CHECK(r.weights.data()[i * 2] == doctest::Approx(2.5f * a / (a + b)));
    CHECK(r.weights.data()[i * 2] + r.weights.data()[i * 2 + 1] == doctest::Approx(2.5f));
  }
}

TEST_CASE("gate: only noaux_tc has e_score_correction_bias, as in Hugging Face's checkpoints, and a bad method is one sentence") {
  Rng rng(2);
  for (const std::string method : {"greedy", "group_limited_greedy"}) {
    Gate g(eight_experts(method, 4, 2), rng);
    CHECK_FALSE(g.has_bias());
    CHECK(g.state_dict().size() == 1);   // weight only
  }
  Gate v3(eight_experts("noaux_tc", 4, 2), rng);
  CHECK(v3.state_dict().back().first == "e_score_correction_bias");
  CHECK_THROWS_WITH_AS(Gate(eight_experts("top2", 1, 1), rng),
                       "gate: topk_method must be greedy (V2-Lite), group_limited_greedy (V2) or noaux_tc (V3), not 'top2'",
                       std::invalid_argument);
  CHECK_THROWS_AS(Gate(eight_experts("noaux_tc", 3, 1), rng), std::invalid_argument);   // 8 experts do not split into 3 groups
}

TEST_CASE("gate: selection_margin is the gap that decides the choice, groups first, and a nudge smaller than it never changes it") {
  // greedy: top-2 of all eight are 0.9, 0.8; the next is 0.7: margin 0.1.
  CHECK(selection_margin(kScores, {}, eight_experts("greedy", 1, 1)) == doctest::Approx(0.1f));
  // noaux_tc, 4 groups keep 2: group scores 1.0, 0.5, 1.5, 0.65 -> the gap between the kept 1.0
  // and the dropped 0.65 is 0.35; within {0, 1, 4, 5} the 2nd (0.8) and 3rd (0.7) differ by 0.1.
  CHECK(selection_margin(kScores, {}, eight_experts("noaux_tc", 4, 2)) == doctest::Approx(0.1f));
  // One group kept: groups 1.5 and 1.0 differ by 0.5; inside group 2 all experts are chosen.
  CHECK(selection_margin(kScores, {}, eight_experts("noaux_tc", 4, 1)) == doctest::Approx(0.5f));
  // Every score moved by less than half the margin: the same experts.
  const GateConfig cfg = eight_experts("noaux_tc", 4, 2);
  const float m = selection_margin(kScores, {}, cfg);
  Rng rng(1);
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<float> nudged = kScores;
    for (float& v : nudged) v += (static_cast<float>(rng.uniform()) - 0.5f) * 0.49f * m;
    CHECK(select_experts(nudged, {}, cfg) == select_experts(kScores, {}, cfg));
  }
}
