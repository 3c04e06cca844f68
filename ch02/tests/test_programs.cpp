// Smoke tests: every ch02 program runs with --quick and writes the files its README promises.
#include <doctest/doctest.h>

#include <filesystem>

#include "common/tests/program_runner.hpp"

namespace fs = std::filesystem;

using namespace ds::test;

TEST_CASE("program ch02_attention --quick writes the heatmap and summary") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch02_attention";
  REQUIRE(run_program("ch02_attention", "", out) == 0);
  check_files(out, {"attention_weights.svg", "attention_weights.csv"});
  const auto s = program_summary(out);
  double total = 0;
  for (double w : s["last_token_weights"]) total += w;
  CHECK(total == doctest::Approx(1.0));
}

TEST_CASE("program ch02_kv_cache --quick: same tokens with and without the cache") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch02_kv_cache";
  REQUIRE(run_program("ch02_kv_cache", "", out) == 0);
  check_files(out, {"time_per_token.svg", "time_per_token.csv", "cache_bytes.svg"});
  const auto s = program_summary(out);
  CHECK(s["same_tokens"] == 1.0);
  CHECK(s["cache_bytes_end"].get<double>() > 0);
}

TEST_CASE("program ch02_kv_cache runs GPT-2 checkpoints (--gpt2)") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch02_kv_cache_gpt2";
  REQUIRE(run_program("ch02_kv_cache", "--gpt2 " + std::string(DS_SOURCE_DIR) + "/ch02/tests/fixtures/gpt2_tiny --prompt 'the sun' --tokens 20", out) == 0);
  const auto s = program_summary(out);
  CHECK(s["same_tokens"] == 1.0);
  CHECK(run_program("ch02_kv_cache", "--gpt2 /nonexistent", out) == 1);
  CHECK(ds::read_text_file(out.string() + ".log").find("does not exist") != std::string::npos);
}

TEST_CASE("program ch02_mqa_gqa --quick writes the size and loss plots") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch02_mqa_gqa";
  REQUIRE(run_program("ch02_mqa_gqa", "", out) == 0);
  check_files(out, {"kv_cache_gpt2-small.svg", "kv_cache_deepseek-v3-mha.svg", "val_loss.svg", "val_loss.csv"});
  const auto s = program_summary(out);
  CHECK(s["gpt2-small"]["MHA"]["kv_bytes_per_token"] == 36864.0);
  CHECK(run_program("ch02_mqa_gqa", "--gqa-kv-heads 3", out) == 2);   // 8 query heads do not split into 3 groups
  CHECK(run_program("ch02_mqa_gqa", "--preset gpt5", out) == 2);
}

TEST_CASE("program ch02_kv_cache trains on any text file (--data)") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch02_kv_cache_data";
  const fs::path text = fs::temp_directory_path() / "ds_smoke_ch02_data.txt";
  std::string docs;
  for (int i = 0; i < 300; ++i) docs += "Story " + std::to_string(i) + ": a fox met a crow by the river and they talked.\n\n";
  ds::write_file_atomic(text.string(), std::string_view(docs));
  REQUIRE(run_program("ch02_kv_cache", "--data " + text.string() + " --prompt 'a fox'", out) == 0);
  CHECK(run_program("ch02_kv_cache", "--data " + (text.string() + ".missing"), out) == 1);
  CHECK(ds::read_text_file(out.string() + ".log").find("No such file") != std::string::npos);
  fs::remove(text);
}

TEST_CASE("programs reject bad flags with exit code 2") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch02_bad";
  CHECK(run_program("ch02_attention", "--dim zero", out) == 2);
  CHECK(run_program("ch02_kv_cache", "--tokens -5", out) == 2);
}

TEST_CASE("program ch02_kv_cache --quick --data on random bytes: the generated text reaches the terminal as valid UTF-8") {
  const fs::path data = random_bytes_file("ds_random_bytes_ch02.bin", 60000, 2);
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch02_kv_cache_bytes";
  REQUIRE(run_program("ch02_kv_cache", "--temperature 1 --data " + data.string(), out) == 0);   // sampled: byte tokens
  check_text_output(out);
  CHECK(ds::read_text_file(out.string() + ".log").find("\xEF\xBF\xBD") != std::string::npos);   // U+FFFD where bytes were not UTF-8
}
