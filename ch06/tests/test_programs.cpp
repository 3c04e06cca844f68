// Smoke tests: ch06_pretrain and ch06_generate with --quick; --recompute; Ctrl-C, SIGTERM and --resume;
// the refusals (a reader's folder, a diverging run, a batch that cannot fit, a resume of another run).
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "common/deepseek_config.hpp"
#include "common/fsutil.hpp"
#include "common/safetensors.hpp"
#include "common/tests/program_runner.hpp"

namespace fs = std::filesystem;
using namespace ds::test;

TEST_CASE("program ch06_pretrain --quick: plots, checkpoint, Ctrl-C then --resume, then ch06_generate") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch06_pretrain";
  REQUIRE(run_program("ch06_pretrain", "", out) == 0);
  check_files(out, {"loss.svg", "lr.svg", "maxvio.svg", "expert_load.svg", "memory.svg"});
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "optimizer.safetensors", "trainer_state.json"})
    CHECK(fs::exists(out / "checkpoint" / f));
  const double full = program_summary(out)["final_val_loss"].get<double>();
  // The memory refusal's estimate is a lower bound: below what this run (batch 4 x 32) measured.
  const auto mem = program_summary(out)["memory"];
  const double measured = 2 * mem["parameters_bytes"].get<double>() + mem["optimizer_bytes"].get<double>() + mem["peak_activation_bytes"].get<double>();
  const double floor = ds::training_bytes_floor(ds::load_config((out / "checkpoint" / "config.json").string()), 4, 1, 32);
  CHECK(floor < measured);
  CHECK(floor > 0.5 * measured);   // and not a vacuous one

  // V3's recomputation: the same training bit for bit, a lower step peak.
  const fs::path rec = fs::temp_directory_path() / "ds_smoke_ch06_pretrain_recompute";
  REQUIRE(run_program("ch06_pretrain", "--recompute --sample-tokens 0", rec) == 0);
  CHECK(program_summary(rec)["recompute"].get<double>() == 1);
  CHECK(program_summary(rec)["final_val_loss"].get<double>() == full);
  CHECK(program_summary(rec)["memory"]["peak_activation_bytes"].get<double>() < program_summary(out)["memory"]["peak_activation_bytes"].get<double>());

  const fs::path cut = fs::temp_directory_path() / "ds_smoke_ch06_interrupted";
  CHECK(run_program("ch06_pretrain", "--interrupt-at 7", cut) == 130);
  CHECK(ds::read_text_file((cut.string() + ".log")).find("interrupted at step 7") != std::string::npos);
  const fs::path resumed = fs::temp_directory_path() / "ds_smoke_ch06_resumed";
  REQUIRE(run_program("ch06_pretrain", "--resume " + (cut / "checkpoint").string(), resumed) == 0);
  CHECK(program_summary(resumed)["final_val_loss"].get<double>() == full);   // exact resume, through the program
  CHECK(run_program("ch06_pretrain", "--batch 2 --resume " + (cut / "checkpoint").string(), resumed) == 1);   // another schedule: refused

  const std::string ckpt = (out / "checkpoint").string();
  const fs::path gen = fs::temp_directory_path() / "ds_smoke_ch06_generate";
  CHECK(run_program("ch06_generate", "--checkpoint " + ckpt + " --ids 5,17,3 --print-ids --logits-out " + gen.string() + ".json", gen) == 0);
  CHECK(ds::read_text_file(gen.string() + ".log").find("ids: ") != std::string::npos);
  CHECK(fs::file_size(gen.string() + ".json") > 1000);
  CHECK(run_program("ch06_generate", "--checkpoint " + ckpt + " --temperature 0.8 --top-p 0.9 --show-logprobs", gen) == 0);
  CHECK(ds::read_text_file(gen.string() + ".log").find("sum of log p") != std::string::npos);
  CHECK(run_program("ch06_generate", "--checkpoint " + ckpt + " --speculative --show-logprobs", gen) == 1);
  CHECK(run_program("ch06_generate", "--checkpoint " + ckpt + " --speculative", gen) == 0);
  CHECK(run_program("ch06_generate", "--checkpoint " + ckpt + " --ids 5,x", gen) == 1);
  CHECK(run_program("ch06_generate", "--checkpoint /nonexistent", gen) == 1);
}

TEST_CASE("program ch06_pretrain --quick --data on random bytes, then ch06_generate --ids: half characters become U+FFFD") {
  // A model trained on random bytes emits byte tokens that are not UTF-8 (issue 14: summary.json
  // used to fail with "invalid UTF-8 byte" after the run's work was done).
  const fs::path data = random_bytes_file("ds_random_bytes_ch06.bin", 200000, 6);
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch06_pretrain_bytes";
  REQUIRE(run_program("ch06_pretrain", "--data " + data.string(), out) == 0);
  check_text_output(out);
  const std::string replacement = "\xEF\xBF\xBD";   // U+FFFD
  CHECK(program_summary(out)["sample"].get<std::string>().find(replacement) != std::string::npos);
  const fs::path gen = fs::temp_directory_path() / "ds_smoke_ch06_generate_bytes";
  REQUIRE(run_program("ch06_generate", "--checkpoint " + (out / "checkpoint").string() + " --ids 11,48,85,122,159,196,233,270 --tokens 8", gen) ==
          0);
  check_text_output(gen);
  CHECK(program_summary(gen)["text"].get<std::string>().find(replacement) != std::string::npos);
}

namespace {
// A run without --quick (whose caps would hide --batch, --steps), on the tiny preset and a small corpus.
int run_tiny(const std::string& args, const fs::path& out) {
  fs::remove_all(out);
  const std::string cmd = std::string(DS_BIN_DIR) + "/ch06_pretrain --preset tiny --corpus-kb 20 --seq 32 --batch 4 --threads 1 --sample-tokens 0 --out " +
                          out.string() + " " + args + " > " + out.string() + ".log 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string log_of(const fs::path& out) { return ds::read_text_file(out.string() + ".log"); }

// The last line the program printed: its one-sentence refusal.
std::string last_line(const fs::path& out) {
  std::string log = log_of(out);
  while (!log.empty() && log.back() == '\n') log.pop_back();
  return log.substr(log.rfind('\n') + 1);
}
}  // namespace

TEST_CASE("program ch06_pretrain refuses, in one sentence and before any work, a folder of the reader's own, a diverging run, what cannot fit") {
  const fs::path tmp = fs::temp_directory_path();
  const fs::path mine = tmp / "ds_smoke_ch06_readers_folder";
  fs::remove_all(mine);
  fs::create_directories(mine);
  ds::write_file_atomic((mine / "thesis.tex").string(), std::string_view("my thesis"));
  const fs::path refused = tmp / "ds_smoke_ch06_refused";
  CHECK(run_program("ch06_pretrain", "--out " + mine.string(), refused) == 1);   // the later --out wins
  CHECK(last_line(refused).find("--out '" + mine.string() + "' holds '" + (mine / "thesis.tex").string() + "'") != std::string::npos);
  CHECK(ds::read_text_file((mine / "thesis.tex").string()) == "my thesis");
  CHECK(std::distance(fs::directory_iterator(mine), fs::directory_iterator()) == 1);   // nothing written beside it
  CHECK(run_program("ch06_pretrain", "--out " + (mine / "thesis.tex").string(), refused) == 1);
  CHECK(last_line(refused).find("is an existing file, not a folder") != std::string::npos);
  CHECK(ds::read_text_file((mine / "thesis.tex").string()) == "my thesis");

  CHECK(run_program("ch06_pretrain", "--lr 1e10", refused) == 1);
  CHECK(last_line(refused).find("ch06_pretrain: training diverged at step ") == 0);
  CHECK(log_of(refused).find("loss nan") == std::string::npos);
  CHECK(run_program("ch06_pretrain", "--lr 1e-320", refused) == 2);
  CHECK(last_line(refused).find("--lr '1e-320' is out of range: it takes 0 or a number between") != std::string::npos);
  CHECK(run_program("ch06_pretrain", "--prompt ''", refused) == 1);
  CHECK(last_line(refused).find("--prompt is empty") != std::string::npos);
  CHECK_FALSE(fs::exists(refused / "checkpoint"));   // refused before training
  CHECK(run_tiny("--batch 100000000", refused) == 1);
  CHECK(last_line(refused).find("needs at least") != std::string::npos);
  CHECK(last_line(refused).find("available; lower --batch") != std::string::npos);
  CHECK(run_tiny("--batch 100000", refused) == 1);
  CHECK(last_line(refused).find("needs at least") != std::string::npos);
}

TEST_CASE("program ch06_pretrain --resume continues only the same run, a damaged or diverged checkpoint is refused, a save cut by kill -9 recovered") {
  const fs::path tmp = fs::temp_directory_path();
  const fs::path run = tmp / "ds_smoke_ch06_resume_rules";
  REQUIRE(run_program("ch06_pretrain", "--sample-tokens 0", run) == 0);
  const fs::path ckpt = run / "checkpoint";
  const fs::path other = tmp / "ds_smoke_ch06_resume_rules_b";
  auto refused = [&](const std::string& args, const std::string& flag) {
    INFO(args);
    CHECK(run_program("ch06_pretrain", "--resume " + ckpt.string() + " " + args, other) == 1);
    INFO(last_line(other));
    CHECK(last_line(other).find(flag) != std::string::npos);
  };
  refused("--seed 7", "was trained with --seed 1234, not 7");
  refused("--corpus-kb 100", "was trained with --corpus-kb 150, not 100");
  refused("--mtp-lambda 0.1", "was trained with --mtp-lambda 0.3, not 0.1");
  refused("--gamma 0.01", "was trained with --gamma 0.001, not 0.01");
  const fs::path text = tmp / "ds_smoke_ch06_resume_rules.txt";
  ds::write_file_atomic(text.string(), std::string_view("One document.\n\nAnother one, long enough to train on for a step or two.\n"));
  refused("--data " + text.string(), "was trained with --data '', not '" + text.string() + "'");
  ds::write_file_atomic(text.string(), std::string_view("{\"hidden_size\": 1}"));
  refused("--config " + text.string(), text.string());
  const fs::path mini = tmp / "ds_smoke_ch06_resume_rules_mini.json";
  ds::save_config(mini.string(), ds::preset("mini"));
  refused("--config " + mini.string(), "is not the model of the checkpoint being resumed");
  CHECK(run_program("ch06_pretrain", "--resume " + ckpt.string() + " --config " + (ckpt / "config.json").string(), other) == 0);

  // A damaged trainer_state.json: one sentence, no library text.
  const fs::path bad = tmp / "ds_smoke_ch06_resume_rules_bad";
  fs::remove_all(bad);
  fs::copy(ckpt, bad, fs::copy_options::recursive);
  std::string state = ds::read_text_file((bad / "trainer_state.json").string());
  const size_t at = state.find("\"step\":");
  REQUIRE(at != std::string::npos);
  ds::write_file_atomic((bad / "trainer_state.json").string(), state.replace(at, 7, "\"step\":-"));
  CHECK(run_program("ch06_pretrain", "--resume " + bad.string(), other) == 1);
  CHECK(last_line(other).find("trainer_state.json is damaged") != std::string::npos);
  ds::write_file_atomic((bad / "trainer_state.json").string(), std::string_view("{\"step\": \"x"));
  CHECK(run_program("ch06_pretrain", "--resume " + bad.string(), other) == 1);
  CHECK(last_line(other).find("json.exception") == std::string::npos);

  // A weight holding NaN: refused on load, not generated from.
  fs::remove_all(bad);
  fs::copy(ckpt, bad, fs::copy_options::recursive);
  const ds::SafeTensorsFile f = ds::load_safetensors((bad / "model.safetensors").string());
  ds::SafeTensorsNamedTensors tensors;
  for (const std::string& n : f.names()) tensors.push_back({n, f.to_tensor(n)});
  tensors[0].second.data()[3] = NAN;
  ds::save_safetensors((bad / "model.safetensors").string(), tensors);
  const fs::path gen = tmp / "ds_smoke_ch06_resume_rules_gen";
  CHECK(run_program("ch06_generate", "--checkpoint " + bad.string() + " --ids 5,17,3", gen) == 1);
  CHECK(last_line(gen).find("holds NaN (element 3)") != std::string::npos);

  // kill -9 between the two renames of a save: only checkpoint.old/ and checkpoint.tmp/ are left.
  fs::remove_all(bad);
  fs::copy(ckpt, bad.string() + ".old", fs::copy_options::recursive);
  fs::copy(ckpt, bad.string() + ".tmp", fs::copy_options::recursive);
  CHECK(run_program("ch06_generate", "--checkpoint " + bad.string() + " --ids 5,17,3", gen) == 0);
  CHECK(fs::exists(bad / "model.safetensors"));
  CHECK_FALSE(fs::exists(bad.string() + ".old"));
}

TEST_CASE("program ch06_pretrain: SIGTERM, as a scheduler sends it, finishes the step, saves, says where, exits 143") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch06_sigterm";
  fs::remove_all(out);
  const std::string state = (out / "checkpoint" / "trainer_state.json").string();
  // Started in the background; once the first checkpoint exists (training has begun), SIGTERM.
  const std::string cmd = "sh -c '" + std::string(DS_BIN_DIR) +
                          "/ch06_pretrain --preset tiny --corpus-kb 20 --seq 32 --batch 4 --steps 100000 --checkpoint-every 1 --threads 1 "
                          "--sample-tokens 0 --out " + out.string() + " > " + out.string() + ".log 2>&1 & pid=$!; i=0; while [ ! -f " + state +
                          " ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; kill -TERM $pid; wait $pid; exit $?'";
  const int rc = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == 143);
  INFO(log_of(out));
  CHECK(log_of(out).find("by SIGTERM: checkpoint written to " + (out / "checkpoint").string()) != std::string::npos);
  const fs::path gen = fs::temp_directory_path() / "ds_smoke_ch06_sigterm_gen";
  CHECK(run_program("ch06_generate", "--checkpoint " + (out / "checkpoint").string() + " --ids 5,17,3", gen) == 0);
}

TEST_CASE("programs bench_moe, bench_train_throughput, bench_split_backward, bench_recompute refuse a batch that cannot fit before allocating it") {
  const fs::path log = fs::temp_directory_path() / "ds_smoke_bench_too_big.log";
  const fs::path out = fs::temp_directory_path() / "ds_smoke_bench_too_big";
  for (const std::string& cmd : std::vector<std::string>{
           "bench_moe --quick --tokens 100000000 --out " + out.string(), "bench_train_throughput --batch 100000000",
           "bench_split_backward --quick --batch 100000000 --out " + out.string(), "bench_recompute --batch 100000 --out " + out.string()}) {
    INFO(cmd);
    const int rc = std::system((std::string(DS_BIN_DIR) + "/" + cmd + " > " + log.string() + " 2>&1").c_str());
    REQUIRE(WIFEXITED(rc));
    CHECK(WEXITSTATUS(rc) == 1);
    const std::string text = ds::read_text_file(log.string());
    INFO(text);
    CHECK(text.find("needs at least") != std::string::npos);
    CHECK(text.find("bad_alloc") == std::string::npos);
  }
}
