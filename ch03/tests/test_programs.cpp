// Smoke tests: every ch03 program runs with --quick and writes the files its README promises.
#include <doctest/doctest.h>

#include <filesystem>

#include "common/tests/program_runner.hpp"
#include "common/tests/tokenizer_files_check.hpp"

namespace fs = std::filesystem;

using namespace ds::test;

TEST_CASE("program ch03_rope --quick: four plots, the relative-offset property holds") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch03_rope";
  REQUIRE(run_program("ch03_rope", "", out) == 0);
  for (const char* f : {"sinusoidal_encoding.svg", "rope_angles.svg", "relative_offset.svg", "yarn_frequencies.svg", "relative_offset.csv"})
    CHECK(fs::file_size(out / f) > 100);
  CHECK(program_summary(out)["relative_offset_max_diff"].get<double>() < 1e-4);
  check_captions(out);
  CHECK(run_program("ch03_rope", "--dim 7", out) == 2);
}

TEST_CASE("program ch03_mla --quick: absorbed equals naive, V3's 35,136 cached numbers per token") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch03_mla";
  REQUIRE(run_program("ch03_mla", "", out) == 0);
  const auto s = program_summary(out);
  CHECK(s["naive_vs_absorbed_max_abs_diff"].get<double>() < 1e-4);
  CHECK(s["cache_elements_per_token"]["deepseek-v3"]["mla"] == 35136.0);
  CHECK(s["cache_elements_per_token"]["deepseek-v3"]["naive_mla"] == 128.0 * (192 + 128) * 61);   // the naive path's per-head K and V
  CHECK(fs::file_size(out / "decode_time.svg") > 100);
  CHECK(fs::file_size(out / "kv_cache_v3.csv") > 100);
  check_captions(out);
}

TEST_CASE("program ch03_attention_compare --quick trains all four kinds") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch03_compare";
  REQUIRE(run_program("ch03_attention_compare", "", out) == 0);
  const auto s = program_summary(out);
  for (const char* k : {"MHA", "GQA", "MQA", "MLA"}) CHECK(s["models"][k]["best_val_loss"].get<double>() > 0);
  CHECK(fs::file_size(out / "val_loss.svg") > 100);
  check_captions(out);
}

TEST_CASE("program ch03_mla --quick --prompt: the prompt's KV cache in DeepSeek-V3's real tokens") {
  if (!tokenizer_files_present("deepseek-v3")) return;
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch03_mla_prompt";
  REQUIRE(run_program("ch03_mla", "--prompt \"Hello world\"", out) == 0);
  CHECK(program_summary(out)["prompt"]["v3_tokens"].get<double>() == 3.0);   // BOS, "Hello", " world"
  CHECK(ds::read_text_file(out.string() + ".log").find("is 3 tokens for DeepSeek-V3's tokenizer") != std::string::npos);
}
