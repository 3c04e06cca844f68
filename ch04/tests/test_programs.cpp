// Smoke tests: every ch04 program runs with --quick and writes the files its README promises.
#include <doctest/doctest.h>

#include <filesystem>

#include "common/tests/program_runner.hpp"

namespace fs = std::filesystem;

using namespace ds::test;

TEST_CASE("program ch04_router --quick: choices with bias and groups, two heatmaps") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch04_router";
  REQUIRE(run_program("ch04_router", "", out) == 0);
  const auto s = program_summary(out);
  CHECK(s["maxvio_after_bias"].get<double>() < s["maxvio_before_bias"].get<double>());
  CHECK(s["tokens"]["t0"]["top-k"].size() == 2);
  CHECK(s["choices_changed_by_v2_groups"].get<double>() == 0);   // 2 groups of 4 for 2 experts: V2's rule cannot bite
  REQUIRE(run_program("ch04_router", "--topk-groups 1", out) == 0);
  CHECK(program_summary(out)["choices_changed_by_v2_groups"].get<double>() > 0);
  for (const char* f : {"expert_choices.svg", "scores.svg", "expert_choices.csv"}) CHECK(fs::file_size(out / f) > 100);
  check_captions(out);
  CHECK(run_program("ch04_router", "--experts 6 --groups 4", out) == 1);   // one sentence, exit 1
}

TEST_CASE("program ch04_balancing --quick: every strategy trains and balancing lowers MaxVio") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch04_balancing";
  REQUIRE(run_program("ch04_balancing", "", out) == 0);
  const auto s = program_summary(out)["strategies"];
  for (const char* k : {"none", "aux_loss", "seq_aux", "aux_free", "capacity"}) {
    CHECK(s[k]["final_val_loss"].get<double>() > 0);
    CHECK(fs::file_size(out / (std::string("expert_load_") + k + ".svg")) > 100);
  }
  CHECK(s["aux_loss"]["maxvio_global"].get<double>() < s["none"]["maxvio_global"].get<double>());
  CHECK(fs::file_size(out / "maxvio.svg") > 100);
  check_captions(out);
  CHECK(run_program("ch04_balancing", "--strategies none,magic", out) == 1);
}

TEST_CASE("program ch04_moe_vs_dense --quick: three models with matched active parameters") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch04_moe_vs_dense";
  REQUIRE(run_program("ch04_moe_vs_dense", "", out) == 0);
  const auto m = program_summary(out)["models"];
  const double dense = m["dense"]["active_params"].get<double>();
  for (const char* k : {"deepseekmoe", "conventional"}) {
    CHECK(std::abs(m[k]["active_params"].get<double>() - dense) / dense < 0.02);
    CHECK(m[k]["total_params"].get<double>() > 1.4 * dense);
  }
  check_captions(out);
  CHECK(run_program("ch04_moe_vs_dense", "--top-k 2", out) == 2);
}
