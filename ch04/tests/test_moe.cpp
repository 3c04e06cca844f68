#include <doctest/doctest.h>

#include <cmath>

#include "ch04/moe.hpp"
#include "common/gradcheck.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch04;

namespace {
MoEConfig tiny(int64_t groups, int64_t topk_groups) {
  MoEConfig c;
  c.gate.hidden_size = 8;
  c.gate.n_routed_experts = 8;
  c.gate.num_experts_per_tok = 2;
  c.gate.n_group = groups;
  c.gate.topk_group = topk_groups;
  c.gate.routed_scaling_factor = 2.5f;
  c.gate.init_std = 0.5f;
  c.moe_intermediate_size = 4;
  c.n_shared_experts = 1;
  return c;
}

// Every expert on every token, masked by the routing: the slow, obviously right version.
Tensor dense_reference(MoE& m, const Tensor& x) {
  const int64_t n = x.size(0), k = m.config().gate.num_experts_per_tok;
  const Routing r = m.gate.forward(x);
  Tensor out = m.shared_experts->forward(x);
  for (size_t j = 0; j < m.experts.size(); ++j) {
    Tensor coef = Tensor::zeros({n, 1});
    for (int64_t i = 0; i < n; ++i)
      for (int64_t s = 0; s < k; ++s)
        if (r.experts[i * k + s] == static_cast<int32_t>(j)) coef.data()[i] = r.weights.data()[i * k + s];
    out = add(out, mul(m.experts[j]->forward(x), coef));
  }
  return out;
}
}  // namespace

TEST_CASE("moe: sparse dispatch equals the dense reference loop, outputs and gradients") {
  for (auto [groups, topk] : {std::pair{1, 1}, std::pair{4, 2}}) {
    Rng rng(2);
    MoE m(tiny(groups, topk), rng);
    const Tensor x = randn({6, 8}, rng);
    CHECK(test::max_abs_diff(m.forward(x), dense_reference(m, x)) < 1e-6f);
    const auto sparse = gradcheck_params([&] { return m.forward(x); }, m.named_parameters());
    CHECK_MESSAGE(sparse.ok, sparse.worst);
    const auto wrt_x = gradcheck([&](const std::vector<Tensor>& in) { return m.forward(in[0]); }, {x});
    CHECK_MESSAGE(wrt_x.ok, wrt_x.worst);
  }
}

TEST_CASE("moe: DeepSeek-V3 checkpoint names") {
  Rng rng(3);
  MoE m(tiny(1, 1), rng);
  const auto st = m.state_dict();
  CHECK(st[0].first == "gate.weight");
  CHECK(st[1].first == "experts.0.gate_proj.weight");
  CHECK(st.back().first == "gate.e_score_correction_bias");
  bool shared = false;
  for (auto& [n, t] : st) shared |= n == "shared_experts.down_proj.weight";
  CHECK(shared);
}
