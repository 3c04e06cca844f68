// The divergences and the logit-KD loss against PyTorch: values and gradients from
// tools/make_distill_fixture.py (F.kl_div, and TRL's generalized_jsd_loss for GKD).
#include "ch08/logit_kd.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"
#include "common/tests/torch_fixture.hpp"

using namespace ds;
using namespace ds::ch08;
using ds::test::max_abs_diff;
using json = nlohmann::json;

namespace {
const json& fixture() {
  static const json j = ds::test::read_fixture("ch08/tests/fixtures/distill.json");
  return j;
}
Tensor load(const json& t) { return ds::test::fixture_tensor(t); }
}  // namespace

TEST_CASE("torch reference: forward KL, JSD(beta) and reverse KL at three temperatures, values and gradients") {
  const json& f = fixture();
  const Tensor teacher = load(f["teacher"]);
  const auto w = f["weights"].get<std::vector<float>>();
  const Tensor weights = Tensor::from(w, {static_cast<int64_t>(w.size())});
  for (const json& c : f["divergences"]) {
    const DivergenceOptions o{.beta = c["beta"].get<float>(), .temperature = c["temperature"].get<float>()};
    INFO("beta " << o.beta << " T " << o.temperature);
    Tensor s = load(f["student"]).requires_grad_();
    const Tensor d = token_divergence(s, teacher, o);
    CHECK(max_abs_diff(d, c["value"].get<std::vector<float>>()) < 2e-5f);
    sum(mul(d, weights)).backward();
    CHECK(max_abs_diff(s.grad(), c["grad"].get<std::vector<float>>()) < 2e-5f);
  }
}

TEST_CASE("torch reference: F.kl_div(teacher, student) is the reverse KL, the usual argument-order slip") {
  const json& f = fixture();
  const Tensor s = load(f["student"]), t = load(f["teacher"]);
  // F.kl_div(input, target) = KL(target || input): Hinton's term is F.kl_div(student_logp, teacher_logp).
  const auto swapped = f["kl_div_swapped"].get<std::vector<float>>();
  CHECK(max_abs_diff(reverse_kl(s, t), swapped) < 2e-5f);
  CHECK(max_abs_diff(forward_kl(s, t), swapped) > 0.1f);
  // Probabilities where F.kl_div wants log-probs give a number that is not a divergence (negative here).
  const auto probs = f["kl_div_probs_as_input"].get<std::vector<float>>();
  CHECK(*std::min_element(probs.begin(), probs.end()) < 0.f);
}

TEST_CASE("torch reference: logit KD, alpha * T^2 * KL + (1 - alpha) * CE over the unmasked tokens, and its gradient") {
  const json& c = fixture()["logit_kd"];
  Tensor s = load(c["student"]).requires_grad_();
  const Tensor t = load(c["teacher"]);
  const IntTensor y(c["targets"].get<std::vector<int32_t>>(), {s.size(0), s.size(1)});
  const KDLoss l = logit_kd_loss(s, t, y, {.alpha = c["alpha"].get<float>(), .temperature = c["temperature"].get<float>()});
  CHECK(l.soft == doctest::Approx(c["soft"].get<double>()).epsilon(1e-5));
  CHECK(l.hard == doctest::Approx(c["hard"].get<double>()).epsilon(1e-5));
  CHECK(l.loss.item() == doctest::Approx(c["loss"].get<double>()).epsilon(1e-5));
  l.loss.backward();
  CHECK(max_abs_diff(s.grad(), c["grad"].get<std::vector<float>>()) < 1e-6f);
}
