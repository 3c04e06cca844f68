// Smoke tests: every ch05 program runs with --quick and writes what its README promises.
#include <doctest/doctest.h>

#include <filesystem>

#include "common/tests/program_runner.hpp"

namespace fs = std::filesystem;
using namespace ds::test;

TEST_CASE("program ch05_mtp --quick: both runs train, speculative decoding reproduces greedy") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch05_mtp";
  REQUIRE(run_program("ch05_mtp", "", out) == 0);
  const auto s = program_summary(out);
  CHECK(s["runs"]["plain"]["final_val_loss"].get<double>() > 0);
  CHECK(s["runs"]["mtp"]["final_val_loss"].get<double>() > 0);
  CHECK(s["speculative"]["identical_prompts"] == s["speculative"]["prompts"]);
  CHECK(s["speculative"]["tokens_per_forward"].get<double>() >= 1.0);
  check_files(out, {"val_loss.svg", "train_loss.svg", "decoding_speed.svg"});
  CHECK(run_program("ch05_mtp", "--depth 9", out) == 2);
}

TEST_CASE("program ch05_fp8_formats --quick: the format table, the value grid, a bad --values") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch05_fp8_formats";
  REQUIRE(run_program("ch05_fp8_formats", "", out) == 0);
  const auto s = program_summary(out);
  CHECK(s["formats"]["E4M3"]["max"] == 448.0);
  CHECK(s["positive_finite_values"]["E4M3"] == 126.0);
  check_files(out, {"fp8_grid.svg", "fp8_grid.csv"});
  CHECK(run_program("ch05_fp8_formats", "--values 1,abc", out) == 1);
}

TEST_CASE("program ch05_fp8_quant --quick: fine blocks beat one scale for large outliers, promotion fixes accumulation") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch05_fp8_quant";
  REQUIRE(run_program("ch05_fp8_quant", "", out) == 0);
  const auto s = program_summary(out);
  const auto& q = s["quantization"]["magnitude_100000"];
  CHECK(q["1x128"].get<double>() < q["per-tensor"].get<double>());
  CHECK(s["accumulation"]["k4096_promoted"].get<double>() < s["accumulation"]["k4096_limited"].get<double>());
  check_files(out, {"quantization_error.svg", "accumulation_error.svg"});
}

TEST_CASE("program ch05_fp8_train --quick: four runs, the gaps reported, a bad --format") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch05_fp8_train";
  REQUIRE(run_program("ch05_fp8_train", "", out) == 0);
  const auto r = program_summary(out)["runs"];
  for (const char* k : {"fp32", "bf16", "fp8_fine", "fp8_tensor"}) CHECK(r[k]["final_val_loss"].get<double>() > 0);
  CHECK(r["fp8_fine"].contains("gap_to_bf16"));
  check_files(out, {"loss_curves.svg", "loss_gap.svg", "loss_gap.csv"});
  CHECK(run_program("ch05_fp8_train", "--format e3m4", out) == 2);
}

TEST_CASE("program ch05_mtp --quick --data on random bytes: exits 0 with valid JSON") {
  const fs::path data = random_bytes_file("ds_random_bytes_ch05.bin", 60000, 5);
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch05_mtp_bytes";
  REQUIRE(run_program("ch05_mtp", "--data " + data.string(), out) == 0);
  check_text_output(out);
}
