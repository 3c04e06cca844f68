// Expert parallelism on the MPI ranks against one process: the MoE layer and a training step.
#include <doctest/doctest.h>
#include <mpi.h>

#include <map>
#include <set>

#include "ch06/parallel/data_parallel.hpp"
#include "ch06/parallel/expert_parallel.hpp"
#include "ch06/parallel/tests/mpi/helpers.hpp"
#include "common/autograd.hpp"
#include "common/gradcheck.hpp"
#include "common/ops.hpp"

using namespace ds;
using namespace ds::ch06;
using namespace ds::ch06::test;

namespace {
ch04::MoEConfig moe_config(int64_t n_group, int64_t topk_group) {
  ch04::MoEConfig mc;
  mc.gate.hidden_size = 16;
  mc.gate.n_routed_experts = 8;
  mc.gate.num_experts_per_tok = 3;
  mc.gate.n_group = n_group;
  mc.gate.topk_group = topk_group;
  mc.gate.routed_scaling_factor = 2.5f;
  mc.gate.init_std = 0.3f;   // spread-out scores, so tokens pick experts on both ranks
  mc.moe_intermediate_size = 8;
  return mc;
}

void make_layer_parallel(ch04::MoE& moe, EpRuntime& rt) { install_expert_parallel(moe, mpi::rank(), mpi::size(), rt); }

Tensor random_tokens(int64_t n, int64_t c, uint64_t seed) {
  Rng rng(seed);
  Tensor x = Tensor::zeros({n, c});
  init::normal_(x, rng, 1.f);
  return x;
}
}  // namespace

TEST_CASE("expert-parallel MoE layer: the same outputs and gradients as the layer in one process") {
  EpRuntime rt;   // outlives the layers made expert parallel below
  // Tolerance 1e-5: the same float32 arithmetic per expert; only the sum of a token's expert
  // outputs may be added in another order.
  for (auto [n_group, topk_group] : {std::pair<int64_t, int64_t>{1, 1}, {2, 1}, {2, 2}}) {
    CAPTURE(n_group);
    CAPTURE(topk_group);
    Rng r1(3), r2(3);
    ch04::MoE single(moe_config(n_group, topk_group), r1), parallel(moe_config(n_group, topk_group), r2);
    make_layer_parallel(parallel, rt);
    const int64_t n = 24 + 8 * mpi::rank();   // the ranks hold different numbers of tokens
    Tensor x1 = random_tokens(n, 16, 100 + static_cast<uint64_t>(mpi::rank()));
    Tensor x2 = x1.clone();
    x1.requires_grad_();
    x2.requires_grad_();
    const Tensor w = random_tokens(n, 16, 200 + static_cast<uint64_t>(mpi::rank()));   // L = sum(out * w)
    const Tensor y1 = single.forward(x1), y2 = parallel.forward(x2);
    CHECK(max_abs_diff(y1, y2) < 1e-5);
    sum(mul(y1, w)).backward();
    sum(mul(y2, w)).backward();
    CHECK(max_abs_diff(x1.grad(), x2.grad()) < 1e-5);
    CHECK(max_abs_diff(single.gate.weight.grad(), parallel.gate.weight.grad()) < 1e-5);
    CHECK(max_abs_diff(single.shared_experts->up_proj.weight.grad(), parallel.shared_experts->up_proj.weight.grad()) < 1e-5);
    // A rank's experts learn from every rank's tokens: one process's expert gradients summed
    // over the ranks (each rank ran its own tokens through `single`).
    const ExpertPlacement place{8, mpi::size()};
    for (int64_t j = 0; j < 8; ++j) {
      Tensor total = single.experts[static_cast<size_t>(j)]->down_proj.weight.grad().clone();
      mpi::allreduce_sum(total.data(), total.numel());
      if (place.owner(j) != mpi::rank()) continue;
      const Tensor g = parallel.experts[static_cast<size_t>(j)]->down_proj.weight.grad();
      CAPTURE(j);
      REQUIRE(g.defined());
      CHECK(max_abs_diff(total, g) < 1e-5);
    }
  }
}

TEST_CASE("expert-parallel MoE layer: finite differences agree with its backward (tokens and combine weights across ranks)") {
  EpRuntime rt;   // outlives the layers made expert parallel below
  Rng rng(5);
  ch04::MoE moe(moe_config(1, 1), rng);
  make_layer_parallel(moe, rt);
  const Tensor x = random_tokens(6, 16, 300 + static_cast<uint64_t>(mpi::rank()));
  // Every rank perturbs its own tokens in step with the others (the all-to-alls are collective).
  const GradCheckResult r = gradcheck([&](const std::vector<Tensor>& in) { return moe.forward(in[0]); }, {x});
  CHECK_MESSAGE(r.ok, r.worst);
}

TEST_CASE("node-limited routing: with n_group = ranks and topk_group = 1 every token goes to one rank") {
  EpRuntime rt;   // outlives the layers made expert parallel below
  Rng rng(3);
  ch04::MoE moe(moe_config(mpi::size(), 1), rng);
  make_layer_parallel(moe, rt);
  const Tensor x = random_tokens(32, 16, 400 + static_cast<uint64_t>(mpi::rank()));
  rt.counters = EpCounters{};
  {
    NoGradGuard ng;
    moe.forward(x);
  }
  CHECK(rt.counters.tokens == 32);
  CHECK(rt.counters.token_copies == 32);   // one destination per token
  rt.counters = EpCounters{};
  Rng rng2(3);
  ch04::MoE unlimited(moe_config(1, 1), rng2);
  make_layer_parallel(unlimited, rt);
  {
    NoGradGuard ng;
    unlimited.forward(x);
  }
  if (mpi::size() > 1) CHECK(rt.counters.token_copies > 32);   // 3 experts of 8 often span both ranks
  CHECK(rt.counters.token_copies <= 32 * std::min<int64_t>(3, mpi::size()));
}

TEST_CASE("an expert-parallel training step equals one process on the same global batch") {
  EpRuntime rt;   // outlives the layers made expert parallel below
  // EP for the routed experts, data parallelism (all-reduce, or ZeRO-1) for everything else.
  // Tolerance as the data-parallel test: 1e-4 on the weights after 3 steps.
  PretrainConfig pc = small_run(3);
  pc.train.warmup = 1;
  const DeepSeekConfig cfg = tiny_config();
  Rng rng0(21);
  DeepSeekModel single(cfg, rng0);
  Pretrainer p(single, pc);
  std::vector<double> single_loss;
  for (int i = 0; i < 3; ++i) single_loss.push_back(p.trainer.step(small_data()).loss);
  const NamedTensors single_state = single.state_dict();
  const std::map<std::string, Tensor> want(single_state.begin(), single_state.end());
  for (bool zero1 : {false, true}) {
    CAPTURE(zero1);
    Rng rng(21);
    DeepSeekModel m(cfg, rng);
    const ExpertShard shard = make_expert_parallel(m, mpi::rank(), mpi::size(), rt);
    CHECK(shard.local.size() * static_cast<size_t>(mpi::size()) == shard.local.size() + shard.remote.size());
    DataParallelTrainer dp(m, pc, zero1, shard.local, shard.remote);
    for (int i = 0; i < 3; ++i) CHECK(dp.step(small_data()).loss == doctest::Approx(single_loss[static_cast<size_t>(i)]).epsilon(1e-5));
    const std::set<std::string> remote(shard.remote.begin(), shard.remote.end());
    double worst = 0;
    size_t compared = 0;
    for (const auto& [name, t] : m.state_dict()) {
      if (remote.count(name)) {
        CHECK(t.numel() == 0);   // released: another rank holds it
        continue;
      }
      worst = std::max(worst, max_abs_diff(t, want.at(name)));
      ++compared;
    }
    CHECK(compared > 0);
    CHECK(worst < 1e-4);
  }
}

TEST_CASE("expert-parallel MoE layer: a rank whose experts no token chose still takes part and gets zero gradients") {
  EpRuntime rt;   // outlives the layers made expert parallel below
  // The selection bias steers every token to rank 0's experts: the other ranks receive no rows
  // but must run every all-to-all, forward and backward, or the job would hang.
  Rng r1(3), r2(3);
  ch04::MoE single(moe_config(1, 1), r1), parallel(moe_config(1, 1), r2);
  const ExpertPlacement place{8, mpi::size()};
  for (ch04::MoE* m : {&single, &parallel})
    for (int64_t j = 0; j < place.per_rank(); ++j) m->gate.e_score_correction_bias.data()[j] = 10.f;   // rank 0's experts
  make_layer_parallel(parallel, rt);
  Tensor x1 = random_tokens(12, 16, 500 + static_cast<uint64_t>(mpi::rank()));
  Tensor x2 = x1.clone();
  x1.requires_grad_();
  x2.requires_grad_();
  rt.counters = EpCounters{};
  const Tensor y1 = single.forward(x1), y2 = parallel.forward(x2);
  CHECK(rt.counters.token_copies == 12);   // one destination each: rank 0
  CHECK(max_abs_diff(y1, y2) < 1e-5);
  sum(y1).backward();
  sum(y2).backward();
  CHECK(max_abs_diff(x1.grad(), x2.grad()) < 1e-5);
  if (mpi::rank() != 0)
    for (int64_t j = mpi::rank() * place.per_rank(); j < (mpi::rank() + 1) * place.per_rank(); ++j) {
      const Tensor g = parallel.experts[static_cast<size_t>(j)]->up_proj.weight.grad();
      CHECK((!g.defined() || max_abs_diff(g, Tensor::zeros(g.shape())) == 0));
    }
}
