// RoutingTrace: each training token's experts per layer, keyed so that two layouts of the same
// run join token by token, and compare_routing finding the first choice that differs.
#include <doctest/doctest.h>

#include <string>

#include "ch06/parallel/routing_trace.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch06;

namespace {
ch04::MoEConfig small_moe() {
  ch04::MoEConfig mc;
  mc.gate.hidden_size = 8;
  mc.gate.n_routed_experts = 8;
  mc.gate.num_experts_per_tok = 2;
  mc.gate.n_group = 4;
  mc.gate.topk_group = 2;
  mc.gate.topk_method = "noaux_tc";
  mc.gate.scoring_func = "sigmoid";
  mc.gate.init_std = 0.5f;
  mc.moe_intermediate_size = 4;
  return mc;
}

Tensor tokens(int64_t b, int64_t t, uint64_t seed) {
  Rng rng(seed);
  Tensor x = Tensor::zeros({b, t, 8});
  init::normal_(x, rng, 1.f);
  return x;
}
}  // namespace

TEST_CASE("routing trace: a batch routed whole equals the same batch routed in two halves as two EP ranks would, token by token") {
  Rng rng(7);
  ch04::MoE moe(small_moe(), rng);
  const Tensor x = tokens(4, 3, 1);   // one micro-batch of 4 sequences of 3 tokens
  test::TempDir dir("ds_routing_trace");
  {
    RoutingTrace whole({&moe}, {5}, dir.file("whole.txt"));
    whole.begin_step(1);
    moe.forward(x);
    NoGradGuard ng;
    moe.forward(x);   // evaluation: left out
  }
  for (int half = 0; half < 2; ++half) {
    RoutingTrace part({&moe}, {5}, dir.file("half" + std::to_string(half) + ".txt"));
    part.begin_step(1);
    part.set_micro_batch(0, 2 * half);
    moe.forward(slice(x, 0, 2 * half, 2 * half + 2));
  }
  const std::vector<RoutedToken> a = read_routing_trace({dir.file("whole.txt")});
  const std::vector<RoutedToken> b = read_routing_trace({dir.file("half0.txt"), dir.file("half1.txt")});
  REQUIRE(a.size() == 12);
  CHECK(a[4].layer == 5);
  CHECK(a[4].sequence == 1);
  CHECK(a[4].position == 1);
  CHECK(a[4].experts.size() == 2);
  CHECK(a[4].margin >= 0);
  const RoutingComparison same = compare_routing(a, b);
  CHECK(same.tokens == 12);
  CHECK(same.missing == 0);
  CHECK(same.flips == 0);

  std::vector<RoutedToken> changed = b;
  changed[7].experts = {changed[7].experts[0] == 0 ? 1 : 0, changed[7].experts[1]};
  changed[7].margin = 3e-7f;
  const RoutingComparison diff = compare_routing(a, changed);
  CHECK(diff.flips == 1);
  REQUIRE(diff.first_flip_b);
  CHECK(diff.first_flip_b->margin == doctest::Approx(3e-7f));
  CHECK(diff.first_flip_step() == 1);
  changed.pop_back();
  CHECK(compare_routing(a, changed).missing == 1);
}
