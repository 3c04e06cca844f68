// Smoke test: ch05_mtp runs with --quick, speculative output equals greedy output.
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
