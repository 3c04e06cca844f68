// Data parallelism and ZeRO-1 on the MPI ranks against one process.
#include <doctest/doctest.h>
#include <mpi.h>

#include <filesystem>

#include "ch06/checkpoint.hpp"
#include "ch06/parallel/data_parallel.hpp"
#include "ch06/parallel/tests/mpi/helpers.hpp"
#include "common/safetensors.hpp"

using namespace ds;
using namespace ds::ch06;
using namespace ds::ch06::test;

namespace {
// Largest difference between every tensor of the state dicts (weights and routing biases).
double state_difference(const DeepSeekModel& a, const DeepSeekModel& b) {
  const NamedTensors sa = a.state_dict(), sb = b.state_dict();
  REQUIRE(sa.size() == sb.size());
  double d = 0;
  for (size_t i = 0; i < sa.size(); ++i) d = std::max(d, max_abs_diff(sa[i].second, sb[i].second));
  return d;
}
}  // namespace

TEST_CASE("data parallel training, plain and ZeRO-1, equals one process on the same global batches") {
  // Tolerance: the ranks' gradients are float32 sums in another order than one process's, which
  // AdamW's division by sqrt(v) magnifies for gradients near zero (m / sqrt(v) of a tiny gradient
  // can move by a good part of 1). Each step moves a weight by up to lr = 2e-3, so 5e-4, a quarter
  // of one step's largest move, after 4 steps; a lost or misrouted gradient moves weights by the order
  // of a step. The asan build (no FMA, another summation order) measured 1.5e-4.
  const PretrainConfig pc = small_run(4);
  const DeepSeekConfig cfg = tiny_config();
  Rng rng0(11);
  DeepSeekModel single(cfg, rng0);
  Pretrainer p(single, pc);
  std::vector<double> single_loss;
  for (int i = 0; i < 4; ++i) single_loss.push_back(p.trainer.step(small_data()).loss);
  for (bool zero1 : {false, true}) {
    CAPTURE(zero1);
    Rng rng(11);
    DeepSeekModel m(cfg, rng);
    DataParallelTrainer dp(m, pc, zero1);
    for (int i = 0; i < 4; ++i) CHECK(dp.step(small_data()).loss == doctest::Approx(single_loss[static_cast<size_t>(i)]).epsilon(1e-5));
    CHECK(state_difference(m, single) < 5e-4);
    CHECK(state_difference(m, single) > 0);   // not the same computation: the check compares two paths
    // Every rank holds the same weights.
    const double mine = state_difference(m, single);
    CHECK(mpi::allreduce_max(mine) == doctest::Approx(mpi::allreduce_sum(mine) / mpi::size()).epsilon(1e-3));
  }
}

TEST_CASE("ZeRO-1: each rank keeps AdamW's moments of its share of the parameters, all of them once") {
  const PretrainConfig pc = small_run(1);
  Rng rng(11);
  DeepSeekModel m(tiny_config(), rng);
  DataParallelTrainer sharded(m, pc, true), plain(m, pc, false);
  const double unsharded = static_cast<double>(plain.optimizer_bytes());
  CHECK(unsharded == doctest::Approx(8.0 * static_cast<double>(m.num_parameters())));
  const double mine = static_cast<double>(sharded.optimizer_bytes());
  CHECK(mpi::allreduce_sum(mine) == doctest::Approx(unsharded));
  if (mpi::size() == 2) CHECK(mine < 0.6 * unsharded);   // balanced: largest tensors first onto the least loaded rank
  const std::vector<int> owners = zero1_owners(m.named_parameters(), 2);
  CHECK(std::count(owners.begin(), owners.end(), 0) > 0);
  CHECK(std::count(owners.begin(), owners.end(), 1) > 0);
}

TEST_CASE("data parallel checkpoints: ch06_pretrain's layout, resumed exactly by either trainer") {
  const PretrainConfig pc = small_run(6);
  const DeepSeekConfig cfg = tiny_config();
  std::vector<double> straight;
  {
    Rng rng(5);
    DeepSeekModel m(cfg, rng);
    DataParallelTrainer dp(m, pc, true);
    for (int i = 0; i < 6; ++i) straight.push_back(dp.step(small_data()).loss);
  }
  const std::string dir = (std::filesystem::temp_directory_path() / "ds_dp_ckpt").string();
  std::vector<double> resumed;
  {
    Rng rng(5);
    DeepSeekModel m(cfg, rng);
    DataParallelTrainer dp(m, pc, true);
    for (int i = 0; i < 3; ++i) resumed.push_back(dp.step(small_data()).loss);
    dp.save(dir, nullptr);
  }
  // The optimizer file holds every parameter's moments under one process's names.
  const SafeTensorsFile f = load_safetensors(dir + "/optimizer.safetensors");
  Rng rng(5);
  DeepSeekModel fresh(cfg, rng);
  CHECK(f.names().size() == 2 * fresh.named_parameters().size());
  {
    LoadedModel lm = load_model(dir);
    DataParallelTrainer dp(*lm.model, pc, true);
    dp.load(dir);
    CHECK(dp.step_count() == 3);
    for (int i = 3; i < 6; ++i) resumed.push_back(dp.step(small_data()).loss);
    CHECK(resumed == straight);   // bit for bit across the save
  }
  // One process (ch06_pretrain's trainer) resumes it too, on the same path as the ranks.
  if (mpi::rank() == 0) {
    LoadedModel lm = load_model(dir);
    Pretrainer p(*lm.model, pc);
    p.trainer.load_state(dir);
    CHECK(p.trainer.step_count() == 3);
    for (int i = 3; i < 6; ++i) CHECK(p.trainer.step(small_data()).loss == doctest::Approx(straight[static_cast<size_t>(i)]).epsilon(1e-4));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}
