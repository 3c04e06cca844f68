// Smoke tests: ch06_data_parallel and ch06_expert_parallel with --quick on 2 MPI ranks, and the
// data-parallel checkpoints resumed by this program and by ch06_pretrain.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "common/fsutil.hpp"
#include "common/tests/program_runner.hpp"

namespace fs = std::filesystem;
using namespace ds::test;

namespace {
bool have_mpi() { return !std::string(DS_MPIEXEC).empty() && fs::exists(fs::path(DS_BIN_DIR) / "ch06_data_parallel"); }

// `mpirun -np ranks program --quick ...` into a fresh `out`, output in <out>.log; the exit status.
int run_mpi(int ranks, const std::string& program, const std::string& args, const fs::path& out) {
  fs::remove_all(out);
  // DS_MPI_ENV (ch06/CMakeLists.txt) lets OpenMPI run as root with more ranks than cores.
  const std::string cmd = std::string(DS_MPI_ENV) + " " + DS_MPIEXEC + " -np " + std::to_string(ranks) + " " + DS_BIN_DIR + "/" + program +
                          " --quick --out " + out.string() + " " + args + " > " + out.string() + ".log 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
}  // namespace

TEST_CASE("program ch06_data_parallel --quick on 2 ranks: the check, plots, checkpoints resumed by it and by ch06_pretrain") {
  if (!have_mpi()) {
    MESSAGE("skipped: MPI (mpirun and an MPI C++ library) was not found when configuring");
    return;
  }
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch06_data_parallel";
  REQUIRE(run_mpi(2, "ch06_data_parallel", "", out) == 0);
  check_files(out, {"loss.svg", "memory.svg", "summary.json"});
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "optimizer.safetensors", "trainer_state.json"})
    CHECK(fs::exists(out / "checkpoint" / f));
  const auto s = program_summary(out);
  CHECK(s["check"]["max_param_diff"].get<double>() < 1e-4);
  CHECK(s["memory"]["optimizer_bytes_per_rank"][0].get<double>() < 0.6 * s["memory"]["optimizer_bytes_unsharded"].get<double>());
  const double full = s["final_val_loss"].get<double>();

  const fs::path cut = fs::temp_directory_path() / "ds_smoke_ch06_dp_interrupted";
  CHECK(run_mpi(2, "ch06_data_parallel", "--interrupt-at 5", cut) == 130);
  const fs::path resumed = fs::temp_directory_path() / "ds_smoke_ch06_dp_resumed";
  REQUIRE(run_mpi(2, "ch06_data_parallel", "--resume " + (cut / "checkpoint").string(), resumed) == 0);
  CHECK(program_summary(resumed)["final_val_loss"].get<double>() == full);   // exact resume on the ranks
  // One process picks the same checkpoint up with ch06_pretrain (same schedule: 8 steps of 4 x 32).
  const fs::path single = fs::temp_directory_path() / "ds_smoke_ch06_dp_single";
  REQUIRE(run_program("ch06_pretrain", "--steps 8 --sample-tokens 0 --resume " + (cut / "checkpoint").string(), single) == 0);
  CHECK(program_summary(single)["final_val_loss"].get<double>() == doctest::Approx(full).epsilon(1e-4));
  // SIGTERM (what schedulers and mpirun send) on rank 0: every rank finishes the step, the
  // checkpoint is written, rank 0 says where, and the job exits 130.
  const fs::path term = fs::temp_directory_path() / "ds_smoke_ch06_dp_sigterm";
  CHECK(run_mpi(2, "ch06_data_parallel", "--interrupt-at 3 --interrupt-signal TERM", term) == 130);
  CHECK(fs::exists(term / "checkpoint" / "trainer_state.json"));
  CHECK(ds::read_text_file(term.string() + ".log").find("interrupted at step 3: checkpoint written to") != std::string::npos);
  CHECK(run_mpi(2, "ch06_data_parallel", "--batch 3", out) == 1);   // does not split over 2 ranks
}

TEST_CASE("program ch06_expert_parallel --quick on 2 ranks: the check, node-limited routing, overlap and the DualPipe prediction") {
  if (!have_mpi()) {
    MESSAGE("skipped: MPI (mpirun and an MPI C++ library) was not found when configuring");
    return;
  }
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch06_expert_parallel";
  REQUIRE(run_mpi(2, "ch06_expert_parallel", "", out) == 0);
  check_files(out, {"limit_bytes.svg", "limit_time.svg", "limit_val_loss.svg", "overlap.svg", "dualpipe_prediction.svg", "summary.json"});
  const auto s = program_summary(out);
  CHECK(s["check"]["max_param_diff"].get<double>() < 1e-4);
  // M = 1 sends each token to one rank; unlimited routing to more on average.
  CHECK(s["limit"]["M1"]["ranks_per_token"].get<double>() == 1.0);
  CHECK(s["limit"]["unlimited"]["ranks_per_token"].get<double>() > 1.0);
  CHECK(s["limit"]["M1"]["bytes_per_token"].get<double>() < s["limit"]["unlimited"]["bytes_per_token"].get<double>());
  CHECK(s["dualpipe"]["step_ms_hidden"].get<double>() <= s["dualpipe"]["step_ms_no_overlap"].get<double>());
  CHECK(run_mpi(2, "ch06_expert_parallel", "--pp 3", out) == 1);
}
