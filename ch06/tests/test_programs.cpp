// Smoke tests: ch06_pretrain and ch06_generate with --quick; --recompute; Ctrl-C and --resume.
#include <doctest/doctest.h>

#include <filesystem>

#include "common/fsutil.hpp"
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
