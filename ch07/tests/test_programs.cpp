// Smoke tests: every ch07 program with --quick, each RL program from the checkpoint ch07_sft
// writes, and ch06_generate reading the checkpoints (issue 18, point 8).
#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "common/fsutil.hpp"
#include "common/tests/program_runner.hpp"

namespace fs = std::filesystem;
using namespace ds::test;

namespace {
// ch07_sft --quick once per test case (ctest runs the cases in parallel processes, so each
// writes its own folder); the other programs start from its checkpoint.
std::string sft_checkpoint(const std::string& tag) {
  const fs::path out = fs::temp_directory_path() / ("ds_smoke_ch07_sft_base_" + tag);
  static std::set<std::string> made;   // once per tag in this process
  if (made.insert(tag).second) REQUIRE(run_program("ch07_sft", "", out) == 0);
  return (out / "checkpoint").string();
}
void check_checkpoint(const fs::path& dir) {
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"}) CHECK(fs::exists(dir / f));
  const fs::path gen = fs::path(dir.parent_path().string() + "_" + dir.filename().string() + "_generate");
  CHECK(run_program("ch06_generate",
                    "--checkpoint " + dir.string() + " --prompt \"User: Add 12 + 34 and write the sum least significant digit first. Assistant:\"", gen) == 0);
}
}  // namespace

TEST_CASE("program ch07_sft --quick: plots, summary, a checkpoint ch06_generate reads, bad lengths refused") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch07_sft";
  REQUIRE(run_program("ch07_sft", "", out) == 0);
  check_files(out, {"loss.svg", "loss.csv", "exact_match.svg", "exact_match_by_length.svg", "summary.json"});
  check_text_output(out);
  const auto s = program_summary(out);
  CHECK(s["long_exact_match"].get<double>() >= 0.0);
  CHECK(s["steps"].get<double>() >= 12);   // stage 2 may stop at its convergence stop
  CHECK(s["steps"].get<double>() <= 16);
  CHECK(s["kept_step"].get<double>() >= 12);   // the best validation probe's step, in stage 2
  CHECK(s["kept_step"].get<double>() <= s["steps"].get<double>());
  check_checkpoint(out / "checkpoint");
  CHECK(run_program("ch07_sft", "--short 0-3", out) == 1);
  CHECK(run_program("ch07_sft", "--task countdown --short 1 --long 4", out) == 1);
}

TEST_CASE("program ch07_grpo --quick: from the SFT checkpoint, plots, the control, a checkpoint, a missing start refused") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch07_grpo";
  REQUIRE(run_program("ch07_grpo", "--sft " + sft_checkpoint("grpo"), out) == 0);
  check_files(out, {"accuracy.svg", "kl.svg", "clip.svg", "entropy.svg", "length.svg", "pass_at_k.svg", "summary.json"});
  const auto s = program_summary(out);
  CHECK(s["steps"].get<double>() == 2);
  CHECK(s.contains("control_exact_match"));
  CHECK(s.contains("answers_control_exact_match"));
  check_checkpoint(out / "checkpoint");
  CHECK(fs::exists(out / "control_checkpoint" / "model.safetensors"));
  CHECK(fs::exists(out / "answers_control_checkpoint" / "model.safetensors"));
  // --seeds 2: two SFT starts trained here, one run from each, mean and spread in the summary.
  const fs::path seeds = fs::temp_directory_path() / "ds_smoke_ch07_grpo_seeds";
  REQUIRE(run_program("ch07_grpo", "--seeds 2 --no-control", seeds) == 0);
  const auto ss = program_summary(seeds);
  CHECK(ss["seeds"].get<double>() == 2);
  CHECK(ss["grpo_gain_points_sd"].get<double>() >= 0.0);
  check_checkpoint(seeds / "start-2" / "sft");
  check_checkpoint(seeds / "start-2" / "checkpoint");
  CHECK(run_program("ch07_grpo", "--sft /nonexistent", out) == 1);
  CHECK(run_program("ch07_grpo", "--sft " + sft_checkpoint("grpo") + " --loss-type dr_grpo --scale-rewards none --beta 0 --mu 2 --no-control", out) == 0);
}

TEST_CASE("program ch07_sft and ch07_grpo --checkpoint: only a new, empty or checkpoint folder is written, never the --sft it starts from") {
  const fs::path tmp = fs::temp_directory_path();
  const fs::path mine = tmp / "ds_smoke_ch07_readers_folder";
  fs::remove_all(mine);
  fs::create_directories(mine);
  ds::write_file_atomic((mine / "notes.txt").string(), std::string_view("mine"));
  ds::write_file_atomic((mine / "config.json").string(), std::string_view("{}"));
  const fs::path out = tmp / "ds_smoke_ch07_checkpoint_rules";
  auto refused = [&](const std::string& program, const std::string& args, const std::string& sentence) {
    INFO(program << " " << args);
    CHECK(run_program(program, args, out) == 1);
    const std::string log = ds::read_text_file(out.string() + ".log");
    INFO(log);
    CHECK(log.find(sentence) != std::string::npos);
    CHECK_FALSE(fs::exists(out / "loss.svg"));   // refused before any work
    CHECK(ds::read_text_file((mine / "notes.txt").string()) == "mine");
  };
  refused("ch07_sft", "--checkpoint " + mine.string(), "--checkpoint '" + mine.string() + "' holds '" + (mine / "notes.txt").string() + "'");
  refused("ch07_sft", "--checkpoint " + (mine / "notes.txt").string(), "is an existing file, not a folder");
  const std::string sft = sft_checkpoint("rules");
  refused("ch07_grpo", "--sft " + sft + " --checkpoint " + mine.string(), "which is not part of a checkpoint");
  refused("ch07_grpo", "--sft " + sft + " --checkpoint " + sft, "is the folder --sft reads from");
  CHECK(fs::exists(fs::path(sft) / "labelled_set.json"));
  // its own earlier checkpoint is replaced
  REQUIRE(run_program("ch07_grpo", "--sft " + sft + " --no-control --checkpoint " + (tmp / "ds_smoke_ch07_rules_ckpt").string(), out) == 0);
  CHECK(run_program("ch07_grpo", "--sft " + sft + " --no-control --checkpoint " + (tmp / "ds_smoke_ch07_rules_ckpt").string(), out) == 0);
}

TEST_CASE("program ch07_rejection_sampling --quick, ch07_dpo --quick, ch07_ppo --quick: each from the SFT checkpoint") {
  const fs::path rs = fs::temp_directory_path() / "ds_smoke_ch07_rs";
  REQUIRE(run_program("ch07_rejection_sampling", "--sft " + sft_checkpoint("rl"), rs) == 0);
  check_files(rs, {"exact_match.svg", "summary.json"});
  check_checkpoint(rs / "checkpoint");

  // The quick SFT model is untrained, so it rarely makes a right answer: DPO says so in one sentence when no pair exists.
  const fs::path dpo = fs::temp_directory_path() / "ds_smoke_ch07_dpo";
  const int rc = run_program("ch07_dpo", "--sft " + sft_checkpoint("rl"), dpo);
  CHECK((rc == 0 || rc == 1));
  if (rc == 1) CHECK(ds::read_text_file(dpo.string() + ".log").find("no prompt had both") != std::string::npos);
  else check_files(dpo, {"rewards.svg", "pair_accuracy.svg"});

  const fs::path ppo = fs::temp_directory_path() / "ds_smoke_ch07_ppo";
  REQUIRE(run_program("ch07_ppo", "--sft " + sft_checkpoint("rl"), ppo) == 0);
  check_files(ppo, {"accuracy.svg", "kl.svg", "value_loss.svg", "summary.json"});
  check_checkpoint(ppo / "checkpoint");
  CHECK(fs::exists(ppo / "critic_checkpoint" / "model.safetensors"));
}

TEST_CASE("program ch07_compare --quick: every method and the control from one SFT checkpoint, one plot, the table in summary.json") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch07_compare";
  REQUIRE(run_program("ch07_compare", "--sft " + sft_checkpoint("compare"), out) == 0);
  check_files(out, {"compare.svg", "compare.csv", "summary.json"});
  check_text_output(out);
  const auto s = program_summary(out);
  const double budget = s["samples_per_method"].get<double>();
  CHECK(budget == 2 * 2 * 4);   // --quick: 2 steps of 2 prompts x 4 samples
  for (const char* m : {"grpo", "ppo", "rejection_sampling", "dpo"}) {
    INFO(m);
    CHECK(s[m]["samples"].get<double>() == budget);   // the same sampling budget for every method
    CHECK(s[m]["exact_match"].get<double>() >= 0.0);
    check_checkpoint(out / m);
  }
  CHECK(s["sft_control"]["samples"].get<double>() == 0);   // the control samples nothing
  CHECK(s["sft_control"]["steps"].get<double>() >= 1);
  CHECK(s["labelled_long_examples"].get<double>() == 16);   // ch07_sft --quick's labelled set
  CHECK(fs::exists(out / "sft_control" / "model.safetensors"));
  CHECK(s["answers_control"]["samples"].get<double>() == 0);   // answers-only SFT on RL's prompts samples nothing either
  CHECK(fs::exists(out / "answers_control" / "model.safetensors"));
  CHECK(s["grpo"]["change_points_sd"].get<double>() == 0);   // one start: no spread
  // A checkpoint without the SFT stage's labelled set (one ch07_grpo wrote) cannot give the control its data.
  const fs::path grpo = fs::temp_directory_path() / "ds_smoke_ch07_compare_grpo";
  REQUIRE(run_program("ch07_grpo", "--sft " + sft_checkpoint("compare") + " --no-control", grpo) == 0);
  CHECK(run_program("ch07_compare", "--sft " + (grpo / "checkpoint").string(), out) == 1);
  CHECK(ds::read_text_file(out.string() + ".log").find("labelled_set.json") != std::string::npos);
}

TEST_CASE("program ch07_memory --quick: PPO holds three models, GRPO and DPO two, SFT one") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch07_memory";
  REQUIRE(run_program("ch07_memory", "", out) == 0);
  check_files(out, {"memory.svg", "memory.csv", "summary.json"});
  const auto s = program_summary(out);
  const double sft = s["models_bytes"]["SFT"].get<double>(), grpo = s["models_bytes"]["GRPO"].get<double>(),
               ppo = s["models_bytes"]["PPO"].get<double>();
  CHECK(grpo == doctest::Approx(2 * sft));
  CHECK(ppo > 1.45 * grpo);   // a critic the policy's size on top of GRPO's two models
  CHECK(s["models_bytes"]["DPO"].get<double>() == doctest::Approx(grpo));
}

TEST_CASE("program ch07_r1_zero --quick: the base's skills, RL's trace over two seeds, the Figure 3 plots, checkpoints") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch07_r1_zero";
  REQUIRE(run_program("ch07_r1_zero", "--seeds 2", out) == 0);
  check_files(out, {"figure3.svg", "worked.svg", "accuracy.svg", "pass_at_k.svg", "summary.json"});
  const auto s = program_summary(out);
  CHECK(s["seeds"].get<double>() == 2.0);
  CHECK(s["after"]["exact_match"]["mean"].get<double>() <= 1.0);
  CHECK(s["base"]["pass_at_n"]["mean"].get<double>() >= 0.0);
  for (const char* dir : {"base", "r1_zero"}) check_checkpoint(out / dir);
  const fs::path again = fs::temp_directory_path() / "ds_smoke_ch07_r1_zero_again";
  CHECK(run_program("ch07_r1_zero", "--base " + (out / "base").string(), again) == 0);
  CHECK(run_program("ch07_r1_zero", "--base /nonexistent", again) == 1);
  CHECK(run_program("ch07_r1_zero", "--lengths 0", again) == 1);
}

TEST_CASE("program ch07_r1_recipe --quick: R1's four stages from a base, a row per stage in summary.json, checkpoints") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch07_r1";
  REQUIRE(run_program("ch07_r1_recipe", "", out) == 0);
  check_files(out, {"stages.svg", "summary.json"});
  const auto s = program_summary(out);
  for (const char* stage : {"stage0", "stage1", "stage2", "stage3", "stage4"}) {
    INFO(stage);
    CHECK(s[stage]["format_rate"].get<double>() >= 0.0);
    CHECK(s[stage]["exact_match"]["len2"].get<double>() <= 1.0);
  }
  for (const char* dir : {"stage2", "final"}) check_checkpoint(out / dir);
  CHECK(run_program("ch07_r1_recipe", "--base /nonexistent --stage2-steps 1", out) == 1);
}
