// Smoke tests: ch06_pretrain and ch06_generate with --quick; Ctrl-C and --resume.
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
  CHECK(run_program("ch06_generate", "--checkpoint " + ckpt + " --speculative", gen) == 0);
  CHECK(run_program("ch06_generate", "--checkpoint " + ckpt + " --ids 5,x", gen) == 1);
  CHECK(run_program("ch06_generate", "--checkpoint /nonexistent", gen) == 1);
}
