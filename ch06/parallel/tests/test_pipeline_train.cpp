// Pipelined training on real MPI ranks against the single-process trainer: ch06_pipeline_train
// under `mpirun -np 2` with every schedule (GPipe, 1F1B, ZB1P and DualPipe on 2 stages,
// DualPipeV on 4 stages folded onto 2 ranks) must end with the weights and routing biases of
// `ch06_pipeline_train --reference`, which trains the same initial model on the same batches
// with the plain trainer and M micro-batches of gradient accumulation. A Ctrl-C on one rank
// stops both after a checkpoint, and resuming from it ends where the uninterrupted run ends.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "ch06/checkpoint.hpp"
#include "ch06/parallel/routing_trace.hpp"
#include "common/safetensors.hpp"
#include "common/tests/program_runner.hpp"

namespace fs = std::filesystem;
using namespace ds;
using namespace ds::test;

namespace {

#ifdef DS_MPIEXEC
const std::string kMpiexec = DS_MPIEXEC, kMpiEnv = DS_MPI_ENV;
#else
const std::string kMpiexec, kMpiEnv;
#endif

// False, saying why the test is skipped, where mpirun or the MPI build is missing.
bool mpi_available() {
  std::string why;
  if (kMpiexec.empty() || !fs::exists(kMpiexec)) why = "mpirun was not found when the project was configured (install openmpi-bin and libopenmpi-dev)";
  else if (!fs::exists(std::string(DS_BIN_DIR) + "/ch06_pipeline_train")) why = "ch06_pipeline_train was not built (MPI not found)";
  if (!why.empty()) MESSAGE("skipped: " << why);
  return why.empty();
}

// `mpirun -np ranks ch06_pipeline_train --quick --threads 1 --out out args`; the exit status.
int mpirun(int ranks, const std::string& args, const fs::path& out) {
  fs::remove_all(out);
  // OpenMPI refuses to run as root without --allow-run-as-root; --oversubscribe lets 2 ranks
  // start on a machine that reports fewer slots; CMA (single-copy) is often blocked in containers.
  std::string opts = "--oversubscribe --mca btl_vader_single_copy_mechanism none";
  if (geteuid() == 0) opts += " --allow-run-as-root";
  const std::string cmd = kMpiEnv + " " + kMpiexec + " " + opts + " -np " + std::to_string(ranks) + " " + DS_BIN_DIR +
                          "/ch06_pipeline_train --quick --threads 1 --out " + out.string() + " " + args + " > " + out.string() + ".log 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The largest |a - b| over every tensor of two model.safetensors files with the same names.
double max_weight_diff(const std::string& a, const std::string& b) {
  const SafeTensorsFile fa = load_safetensors(a), fb = load_safetensors(b);
  double worst = 0;
  for (const std::string& name : fa.names()) {
    REQUIRE_MESSAGE(fb.has(name), name);
    const std::vector<float> x = fa.to_tensor(name).to_vector(), y = fb.to_tensor(name).to_vector();
    REQUIRE(x.size() == y.size());
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(x[i] - y[i])));
  }
  return worst;
}

// The single-process reference run (`--quick --reference args`) in TMPDIR/name. One process of
// an MPI-linked program: the mpirun environment (kMpiEnv) too.
fs::path reference_run(const std::string& name, const std::string& args) {
  const fs::path ref = fs::temp_directory_path() / name;
  REQUIRE(run_program("ch06_pipeline_train", "--reference " + args, ref, kMpiEnv) == 0);
  return ref;
}

// How many entries of two model.safetensors files differ by more than `above`, of how many.
std::pair<int64_t, int64_t> count_weight_diffs(const std::string& a, const std::string& b, double above) {
  const SafeTensorsFile fa = load_safetensors(a), fb = load_safetensors(b);
  int64_t n = 0, total = 0;
  for (const std::string& name : fa.names()) {
    const std::vector<float> x = fa.to_tensor(name).to_vector(), y = fb.to_tensor(name).to_vector();
    total += static_cast<int64_t>(x.size());
    for (size_t i = 0; i < x.size(); ++i) n += std::abs(x[i] - y[i]) > above;
  }
  return {n, total};
}

}  // namespace

TEST_CASE("pipeline training on 2 MPI ranks: every schedule ends with the single-process trainer's weights, a Ctrl-C resumes exactly") {
  if (!mpi_available()) return;
  const fs::path tmp = fs::temp_directory_path();
  const fs::path ref = reference_run("ds_pipeline_reference", ""), pipe = tmp / "ds_pipeline_mpi";   // --quick: 3 steps
  REQUIRE_MESSAGE(mpirun(2, "", pipe) == 0, read_text_file(pipe.string() + ".log"));
  const std::string ref_weights = (ref / "reference/checkpoint/model.safetensors").string();
  const auto summary = program_summary(pipe);
  const std::vector<double> ref_loss = program_summary(ref)["reference"]["loss"].get<std::vector<double>>();
  for (const char* name : {"gpipe", "1f1b", "zb1p", "dualpipe", "dualpipev"}) {
    INFO(name);
    const std::string ckpt = (pipe / name / "checkpoint").string();
    // 3 AdamW steps (lr up to 2e-3) from the same weights. The per-micro-batch gradients are
    // added in another order (and the embedding's two uses, the balance losses and DualPipe's
    // copies separately), so float rounding differs, and AdamW's m / sqrt(v) magnifies it where
    // a gradient is tiny: measured, every weight within 4e-7 but a few embedding entries (rare
    // tokens, whose gradient is the sum of the first and the last stage's parts) within 8e-6;
    // the asan build (generic x86-64, no FMA) reached 2.1e-5 on 4 ranks. Bound: 1e-4, 5% of the
    // largest change one step can make (a lost or misrouted gradient moves weights by about lr).
    const double diff = max_weight_diff(ref_weights, ckpt + "/model.safetensors");
    MESSAGE(std::string(name) << ": largest weight difference from the single-process run after 3 steps: " << diff);
    CHECK(diff < 1e-4);
    const std::vector<double> loss = summary["schedules"][name]["loss"].get<std::vector<double>>();
    REQUIRE(loss.size() == ref_loss.size());
    for (size_t i = 0; i < loss.size(); ++i) CHECK(loss[i] == doctest::Approx(ref_loss[i]).epsilon(1e-5));
    CHECK_NOTHROW(ch06::load_model(ckpt));   // the folder ch06_generate reads
    CHECK(summary["schedules"][name]["measured_makespan_ms"].get<double>() > 0);
    CHECK(summary["schedules"][name]["predicted_makespan_ms"].get<double>() > 0);
  }
  check_files(pipe, {"gantt_1f1b.svg", "gantt_dualpipev.svg", "memory_zb1p.svg", "makespan.svg", "bubble.svg", "memory_peak.svg", "memory_step.svg",
                     "loss.svg"});
  // Stopped after step 2 by a Ctrl-C on rank 1, resumed: the same step 3 as the uninterrupted
  // run, bit for bit (weights, AdamW moments, sampler, routing biases all restored).
  const fs::path cut = tmp / "ds_pipeline_mpi_cut", resumed = tmp / "ds_pipeline_mpi_resumed";
  CHECK(mpirun(2, "--schedules zb1p --interrupt-at 2 --interrupt-rank 1", cut) != 0);
  CHECK(read_text_file(cut.string() + ".log").find("interrupted at step 2") != std::string::npos);
  const std::string cut_ckpt = (cut / "zb1p/checkpoint").string();
  REQUIRE(fs::exists(cut_ckpt + "/pipeline_rank1/optimizer.safetensors"));
  REQUIRE_MESSAGE(mpirun(2, "--schedules zb1p --resume " + cut_ckpt, resumed) == 0, read_text_file(resumed.string() + ".log"));
  CHECK(max_weight_diff((pipe / "zb1p/checkpoint/model.safetensors").string(), (resumed / "zb1p/checkpoint/model.safetensors").string()) == 0);
  // Bad settings: one sentence from rank 0 and status 1, every rank ending normally.
  const fs::path bad = tmp / "ds_pipeline_mpi_bad";
  CHECK(mpirun(2, "--schedules gpipe,pipedream", bad) == 1);
  CHECK(read_text_file(bad.string() + ".log").find("ch06_pipeline_train: unknown schedule 'pipedream'") != std::string::npos);
  CHECK(run_program("ch06_pipeline_train", "", bad) == 1);   // one process, no --reference
  CHECK(read_text_file(bad.string() + ".log").find("needs at least 2 ranks") != std::string::npos);
  // A checkpoint of another schedule is refused in one sentence.
  CHECK(mpirun(2, "--schedules 1f1b --resume " + cut_ckpt, resumed) != 0);
  CHECK(read_text_file(resumed.string() + ".log").find("resume it with the same") != std::string::npos);
}

TEST_CASE("pipeline training on 4 MPI ranks: DualPipe on 4 stages (each weight held twice) ends with the single-process trainer's weights") {
  if (!mpi_available()) return;
  const fs::path ref = reference_run("ds_pipeline_reference_m8", "--micro-batches 8"), pipe = fs::temp_directory_path() / "ds_pipeline_mpi_np4";
  // 4 ranks on however few cores: --oversubscribe (mpirun() passes it).
  REQUIRE_MESSAGE(mpirun(4, "--schedules dualpipe,1f1b", pipe) == 0, read_text_file(pipe.string() + ".log"));
  for (const char* name : {"dualpipe", "1f1b"}) {
    // Ranks 0 and 3 each hold both ends, so the embedding has four users on two ranks; the bound
    // is the 2-rank test's (5% of one step's largest change).
    const double diff = max_weight_diff((ref / "reference/checkpoint/model.safetensors").string(), (pipe / name / "checkpoint/model.safetensors").string());
    MESSAGE(std::string(name) << " on 4 ranks: largest weight difference from the single-process run after 3 steps: " << diff);
    CHECK(diff < 1e-4);
  }
}

TEST_CASE("pipeline x expert parallelism on 4 MPI ranks (PP 2 x EP 2), F&B in sequence and overlapped, ends with the single-process trainer's weights") {
  if (!mpi_available()) return;
  const fs::path tmp = fs::temp_directory_path();
  const fs::path ref = reference_run("ds_pipeline_reference_ep", "--micro-batches 4 --trace-routing"), pipe = tmp / "ds_pipeline_mpi_ep2";
  // Processes 0, 1 are pipeline rank 0 (EP indices 0, 1), processes 2, 3 pipeline rank 1; each
  // takes half of every micro-batch's sequences and 4 of every MoE layer's 8 routed experts.
  // DualPipe and DualPipeV alternate: F&B in sequence on odd steps, overlapped on even ones
  // (reported apart as <schedule>_overlap).
  REQUIRE_MESSAGE(mpirun(4, "--ep 2 --schedules dualpipe,zb1p,1f1b,dualpipev --trace-routing", pipe) == 0, read_text_file(pipe.string() + ".log"));
  const auto summary = program_summary(pipe);
  CHECK(summary["ep"].get<int>() == 2);
  const std::vector<double> ref_loss = program_summary(ref)["reference"]["loss"].get<std::vector<double>>();
  const std::vector<ch06::RoutedToken> ref_routing = ch06::read_routing_trace({(ref / "reference/routing_0.txt").string()});
  for (const char* name : {"dualpipe", "zb1p", "1f1b", "dualpipev"}) {
    INFO(name);
    const std::string ckpt = (pipe / name / "checkpoint").string();
    const std::vector<double> loss = summary["schedules"][name]["loss"].get<std::vector<double>>();
    REQUIRE(loss.size() == ref_loss.size());
    // Every token's experts, layer by layer, against the single-process run's.
    std::vector<std::string> traces;
    for (int w = 0; w < 4; ++w) traces.push_back((pipe / name / ("routing_" + std::to_string(w) + ".txt")).string());
    const ch06::RoutingComparison routing = ch06::compare_routing(ref_routing, ch06::read_routing_trace(traces));
    CHECK(routing.tokens > 0);
    CHECK(routing.missing == 0);
    if (routing.flips > 0) {
      // A token chose other experts: from that step on the two runs train different models, and
      // only the steps before it can be compared. The choice must have been a near tie in both
      // runs (selection margin within float32 rounding of scores near 1), never a real disagreement.
      const ch06::RoutedToken &a = *routing.first_flip_a, &b = *routing.first_flip_b;
      MESSAGE(std::string(name) << ": " << routing.flips << " of " << routing.tokens << " routings differ, the first at step " << a.step
                                << " (layer " << a.layer << "), selection margins " << a.margin << " and " << b.margin);
      CHECK(std::abs(a.margin) < 1e-5);
      CHECK(std::abs(b.margin) < 1e-5);
      for (size_t i = 0; i + 1 < static_cast<size_t>(a.step); ++i) CHECK(loss[i] == doctest::Approx(ref_loss[i]).epsilon(1e-5));
    } else {
      // The same routing throughout: each weight's gradient is the sum of the two EP ranks' halves
      // of every micro-batch (an expert's, of the rows both ranks sent it), added in yet another
      // order. Measured: 16 of the tiny model's 398K weights differ by more than 1e-6, at most
      // 2.7e-5 (an embedding row of a rare token; experts that few tokens reached), all entries
      // whose gradient is near zero, where AdamW's m / sqrt(v) turns rounding into a step of up to
      // lr. A wrong sum or scale would move whole tensors by about lr (2e-3). Bounds: 1e-4 (the
      // one-process EP step test's, 5% of one step's largest change), and at most 0.01% of the
      // weights beyond 1e-6.
      const std::string ref_weights = (ref / "reference/checkpoint/model.safetensors").string();
      const double diff = max_weight_diff(ref_weights, ckpt + "/model.safetensors");
      const auto [beyond, total] = count_weight_diffs(ref_weights, ckpt + "/model.safetensors", 1e-6);
      MESSAGE(std::string(name) << " on PP 2 x EP 2 after 3 steps, every routing equal: largest weight difference from the single-process run "
                                << diff << ", " << beyond << " of " << total << " weights differ by more than 1e-6");
      CHECK(diff < 1e-4);
      CHECK(beyond * 10000 <= total);
      for (size_t i = 0; i < loss.size(); ++i) CHECK(loss[i] == doctest::Approx(ref_loss[i]).epsilon(1e-5));
    }
    CHECK_NOTHROW(ch06::load_model(ckpt));
    CHECK(summary["schedules"][name]["measured_makespan_median_ms"].get<double>() > 0);
    const double seq = summary["schedules"][name]["predicted_makespan_ms"].get<double>();
    const double hidden = summary["schedules"][name]["predicted_makespan_fb_hidden_ms"].get<double>();
    CHECK(seq > 0);
    CHECK(hidden <= seq);   // taking the all-to-all off F&B never lengthens the step
    // Every F and B ran expert all-to-alls (the 2 MoE layers of the tiny model).
    const std::vector<double> a2a = summary["schedules"][name]["all_to_all_ms"].get<std::vector<double>>();
    CHECK(a2a[0] > 0);
    CHECK(a2a[1] > 0);
  }
  for (const char* name : {"dualpipe_overlap", "dualpipev_overlap"}) {
    INFO(name);
    CHECK(summary["schedules"][name]["measured_steps"].get<double>() == 1);   // step 2 of 3
    CHECK(summary["schedules"][name]["measured_makespan_median_ms"].get<double>() > 0);
  }
  check_files(pipe, {"ep_step.svg", "gantt_dualpipe.svg", "gantt_dualpipe_overlap.svg", "makespan.svg"});
  // Overlapping F&B's halves changes when each runs, never what: every step in sequence
  // (--no-overlap) gives the same weights bit for bit.
  const fs::path seq_only = tmp / "ds_pipeline_mpi_ep2_seq";
  REQUIRE_MESSAGE(mpirun(4, "--ep 2 --no-overlap --schedules dualpipe,dualpipev", seq_only) == 0, read_text_file(seq_only.string() + ".log"));
  CHECK_FALSE(program_summary(seq_only)["schedules"].contains("dualpipe_overlap"));
  for (const char* name : {"dualpipe", "dualpipev"})
    CHECK(max_weight_diff((pipe / name / "checkpoint/model.safetensors").string(), (seq_only / name / "checkpoint/model.safetensors").string()) == 0);
  // Bad settings: one sentence from rank 0, status 1.
  const fs::path bad = tmp / "ds_pipeline_mpi_ep_bad";
  CHECK(mpirun(4, "--ep 3", bad) == 1);
  CHECK(read_text_file(bad.string() + ".log").find("--ep 3 needs a multiple of 3 processes") != std::string::npos);
  CHECK(mpirun(4, "--ep 4", bad) == 1);
  CHECK(read_text_file(bad.string() + ".log").find("needs at least 8 processes") != std::string::npos);
}
