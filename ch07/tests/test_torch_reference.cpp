// The chapter's losses against PyTorch: values and gradients from tools/make_rl_fixture.py, which
// computes them the way TRL's GRPO, PPO and DPO trainers do.
#include <fstream>
#include <nlohmann/json.hpp>

#include "ch07/dpo.hpp"
#include "ch07/grpo.hpp"
#include "ch07/ppo.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch07;
using json = nlohmann::json;

namespace {
const json& cases() {
  static const json j = [] {
    std::ifstream f(std::string(DS_SOURCE_DIR) + "/ch07/tests/fixtures/rl_losses.json");
    REQUIRE(f.good());
    return json::parse(f)["cases"];
  }();
  return j;
}
Tensor load(const json& t) { return Tensor::from(t["data"].get<std::vector<float>>(), t["shape"].get<Shape>()); }
float max_diff(const Tensor& a, const std::vector<float>& b) {
  REQUIRE(a.numel() == static_cast<int64_t>(b.size()));
  float m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::abs(a[static_cast<int64_t>(i)] - b[i]));
  return m;
}
float max_diff(const std::vector<float>& a, const std::vector<float>& b) { return max_diff(Tensor::from(a, {static_cast<int64_t>(a.size())}), b); }
}  // namespace

TEST_CASE("torch reference: GRPO advantages for each scale_rewards, loss and gradient for each loss_type") {
  const json& c = cases()["grpo"];
  const auto rewards = c["rewards"].get<std::vector<float>>();
  const int64_t g = c["group_size"].get<int64_t>();
  for (const char* scale : {"group", "batch", "none"}) {
    INFO("scale_rewards " << scale);
    CHECK(max_diff(group_advantages(rewards, g, parse_scale_rewards(scale)), c["advantages"][scale].get<std::vector<float>>()) < 2e-6f);
  }
  const Tensor old = load(c["old_logp"]), ref = load(c["ref_logp"]), mask = load(c["mask"]);
  const auto adv = group_advantages(rewards, g, ScaleRewards::group);
  for (const char* type : {"grpo", "dapo", "dr_grpo"}) {
    INFO("loss_type " << type);
    GrpoOptions o;
    o.epsilon = c["epsilon"].get<float>();
    o.epsilon_high = c["epsilon_high"].get<float>();
    o.beta = c["beta"].get<float>();
    o.loss_type = parse_loss_type(type);
    o.max_completion_length = c["max_completion_length"].get<int64_t>();
    Tensor lp = load(c["logp"]).requires_grad_();
    const GrpoTerms t = grpo_loss(lp, old, ref, mask, adv, o);
    CHECK(t.clip_low > 0.f);   // the fixture exercises both clips
    CHECK(t.clip_high > 0.f);
    CHECK(t.loss.item() == doctest::Approx(c["losses"][type]["loss"].get<double>()).epsilon(1e-5));
    t.loss.backward();
    CHECK(max_diff(lp.grad(), c["losses"][type]["grad"].get<std::vector<float>>()) < 1e-6f);
  }
}

TEST_CASE("torch reference: PPO rewards, GAE, whitening and both clipped losses") {
  const json& c = cases()["ppo"];
  const Tensor old = load(c["old_logp"]), ref = load(c["ref_logp"]), mask = load(c["mask"]), values = load(c["values"]);
  const Tensor rewards = kl_penalized_rewards(c["scores"].get<std::vector<float>>(), old, ref, mask, c["kl_coef"].get<float>());
  CHECK(max_diff(rewards, c["rewards"].get<std::vector<float>>()) < 1e-6f);
  const Gae g = gae(rewards, values, mask, c["gamma"].get<float>(), c["lambda"].get<float>());
  CHECK(max_diff(g.advantages, c["advantages"].get<std::vector<float>>()) < 1e-5f);
  CHECK(max_diff(g.returns, c["returns"].get<std::vector<float>>()) < 1e-5f);
  const Tensor white = whiten(g.advantages, mask);
  CHECK(max_diff(white, c["whitened"].get<std::vector<float>>()) < 1e-5f);
  CHECK(max_diff(whiten(g.advantages, mask, false), c["whitened_unshifted"].get<std::vector<float>>()) < 1e-5f);

  Tensor lp = load(c["logp"]).requires_grad_();
  const PpoPolicyTerms p = ppo_policy_loss(lp, old, white, mask, c["clip_eps"].get<float>());
  CHECK(p.clip_fraction > 0.f);
  CHECK(p.loss.item() == doctest::Approx(c["policy_loss"].get<double>()).epsilon(1e-5));
  p.loss.backward();
  CHECK(max_diff(lp.grad(), c["policy_grad"].get<std::vector<float>>()) < 1e-6f);

  Tensor v = load(c["values_new"]).requires_grad_();
  const PpoValueTerms vt = ppo_value_loss(v, values, g.returns, mask, c["clip_value"].get<float>());
  CHECK(vt.clip_fraction > 0.f);
  CHECK(vt.loss.item() == doctest::Approx(c["value_loss"].get<double>()).epsilon(1e-5));
  vt.loss.backward();
  CHECK(max_diff(v.grad(), c["value_grad"].get<std::vector<float>>()) < 1e-6f);
}

TEST_CASE("torch reference: DPO with the NLL term, implicit rewards and gradients") {
  const json& c = cases()["dpo"];
  Tensor w = load(c["logp_chosen"]).requires_grad_(), l = load(c["logp_rejected"]).requires_grad_();
  const DpoTerms t = dpo_loss(w, load(c["mask_chosen"]), l, load(c["mask_rejected"]), load(c["ref_chosen"]), load(c["ref_rejected"]),
                              {c["beta"].get<float>(), c["nll_weight"].get<float>()});
  CHECK(t.loss.item() == doctest::Approx(c["loss"].get<double>()).epsilon(1e-5));
  CHECK(t.nll == doctest::Approx(c["nll"].get<double>()).epsilon(1e-5));
  CHECK(max_diff(t.chosen_rewards, c["chosen_rewards"].get<std::vector<float>>()) < 1e-5f);
  CHECK(max_diff(t.rejected_rewards, c["rejected_rewards"].get<std::vector<float>>()) < 1e-5f);
  t.loss.backward();
  CHECK(max_diff(w.grad(), c["grad_chosen"].get<std::vector<float>>()) < 1e-6f);
  CHECK(max_diff(l.grad(), c["grad_rejected"].get<std::vector<float>>()) < 1e-6f);
}
