// Smoke tests: every chapter 8 program with --quick, and its refusals of bad input.
#include <doctest/doctest.h>

#include <filesystem>

#include "common/fsutil.hpp"
#include "common/tokenizer.hpp"
#include "common/tests/program_runner.hpp"

namespace fs = std::filesystem;
using namespace ds::test;

TEST_CASE("program ch08_distill_compare --quick: curves, final table, teacher checkpoint, reload, and a foreign tokenizer refused") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch08_distill_compare";
  REQUIRE(run_program("ch08_distill_compare", "", out) == 0);
  check_files(out, {"accuracy.svg", "accuracy.csv", "val_loss.svg", "agreement.svg", "train_loss.svg", "final_accuracy.svg"});
  check_text_output(out);
  const auto s = program_summary(out);
  // sequence_kd joins when the --quick teacher passes any of its samples (it seldom does in 20 steps).
  for (const char* m : {"answers", "scratch", "logit_kd", "gkd"}) {
    INFO(m);
    const double acc = s["students"][m]["accuracy"].get<double>();
    CHECK(acc >= 0.0);
    CHECK(acc <= 1.0);
    CHECK(s["students"][m]["tokens"].get<double>() > 0);
  }
  // The RL student spends at least the distilled student's compute (scratch's here: the --quick
  // teacher's samples are rejected, so sequence_kd is left out), and not much more.
  const double rl = s["students"]["grpo"]["compute"].get<double>(), budget = s["students"]["scratch"]["compute"].get<double>();
  CHECK(rl >= budget);
  CHECK(rl < 2 * budget);
  CHECK(s["students"]["grpo"]["accuracy"].get<double>() >= 0.0);
  CHECK(s.contains("rl_gap_points"));
  CHECK(s["teacher"]["parameters"].get<double>() > s["student"]["parameters"].get<double>());
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"}) CHECK(fs::exists(out / "teacher" / f));

  // The saved teacher loads back; a tokenizer of the same size trained on other text is refused.
  const fs::path again = fs::temp_directory_path() / "ds_smoke_ch08_distill_compare_reload";
  CHECK(run_program("ch08_distill_compare", "--teacher " + (out / "teacher").string(), again) == 0);
  CHECK(program_summary(again)["teacher"]["accuracy"].get<double>() == s["teacher"]["accuracy"].get<double>());
  CHECK(run_program("ch08_distill_compare", "--teacher " + (out / "teacher").string() + " --tokenizer " + (out / "teacher" / "tokenizer.json").string(),
                    again) == 0);
  const ds::Tokenizer mine = ds::Tokenizer::load((out / "teacher" / "tokenizer.json").string());
  const ds::Tokenizer foreign = ds::Tokenizer::train({"a quick brown fox jumps over the lazy dog while seven wizards quietly hex",
                                                      "pack my box with five dozen liquor jugs, the jolly wizards said"},
                                                     mine.vocab_size(), mine.special_tokens());
  REQUIRE(foreign.vocab_size() == mine.vocab_size());
  const fs::path foreign_path = fs::temp_directory_path() / "ds_smoke_ch08_foreign_tokenizer.json";
  foreign.save(foreign_path.string());
  CHECK(run_program("ch08_distill_compare", "--teacher " + (out / "teacher").string() + " --tokenizer " + foreign_path.string(), again) == 1);
  CHECK(ds::read_text_file(again.string() + ".log").find("need one tokenizer") != std::string::npos);
  CHECK(run_program("ch08_distill_compare", "--teacher /nonexistent", again) == 1);
  CHECK(run_program("ch08_distill_compare", "--beta 1.5", again) == 2);
  CHECK(run_program("ch08_distill_compare", "--rl-sft-data nothing", again) == 2);
}

TEST_CASE("program ch08_logit_kd --quick: the sweep's curves, the T^2 gradient table, the teacher reloaded, bad temperatures refused") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch08_logit_kd";
  REQUIRE(run_program("ch08_logit_kd", "--temperatures 1,4", out) == 0);
  check_files(out, {"val_ce.svg", "val_ce.csv", "temperature_sweep.svg", "grad_scale.svg"});
  check_text_output(out);
  const auto s = program_summary(out);
  CHECK(s["students"]["KD T=4"]["val_ce"].get<double>() > 0);
  // Without T^2 the soft gradient at T = 16 is 256 times smaller than the scaled one.
  const auto with_t2 = s["grad_norm_t2"].get<std::vector<double>>(), without = s["grad_norm_no_t2"].get<std::vector<double>>();
  CHECK(without.back() * 256 == doctest::Approx(with_t2.back()));
  const fs::path again = fs::temp_directory_path() / "ds_smoke_ch08_logit_kd_reload";
  CHECK(run_program("ch08_logit_kd", "--temperatures 2 --teacher " + (out / "teacher").string(), again) == 0);
  CHECK(run_program("ch08_logit_kd", "--temperatures 1,x", again) == 1);
  CHECK(run_program("ch08_logit_kd", "--alpha 2", again) == 2);
}
