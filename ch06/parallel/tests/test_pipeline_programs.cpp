// Smoke test: ch06_pipeline_schedules with --quick writes its charts and a summary whose bubbles
// are Table 2's; impossible settings end with one sentence and status 1.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "common/fsutil.hpp"
#include "common/tests/program_runner.hpp"

namespace fs = std::filesystem;
using namespace ds::test;

TEST_CASE("program ch06_pipeline_schedules --quick: Gantt charts, bubble and memory charts, Table 2 in the summary") {
  const fs::path out = fs::temp_directory_path() / "ds_smoke_ch06_pipeline_schedules";
  REQUIRE(run_program("ch06_pipeline_schedules", "--print-ops", out) == 0);
  check_files(out, {"gantt_gpipe.svg", "gantt_1f1b.svg", "gantt_zb1p.svg", "gantt_dualpipe.svg", "gantt_dualpipev.svg", "gantt_dualpipe.csv",
                    "bubble.svg", "memory.svg", "activations.svg", "bubble.csv"});
  const auto summary = program_summary(out);
  CHECK(summary["pp"].get<int>() == 4);
  for (const char* name : {"gpipe", "1f1b", "zb1p", "dualpipe", "dualpipev"}) {
    INFO(name);
    const auto& s = summary["schedules"][name];
    for (const auto& b : s["bubble_per_rank"]) CHECK(b.get<double>() == s["table2_bubble"].get<double>());
  }
  CHECK(summary["schedules"]["dualpipe"]["peak_activations"].get<int>() == 5);   // PP + 1
  CHECK(summary["schedules"]["dualpipev"]["devices"].get<int>() == 2);           // PP / 2
  const std::string log = ds::read_text_file(out.string() + ".log");
  CHECK(log.find("rank 0: F0.0 [s1:a0.0] F0.1") != std::string::npos);   // --print-ops
  CHECK(ds::read_text_file((out / "gantt_dualpipe.csv").string()).find("overlapped forward & backward") != std::string::npos);

  // Blocking sends: ZB1P's deferred Ws wait, its bubble exceeds Table 2's, and the conditions block says so.
  const fs::path blocking = fs::temp_directory_path() / "ds_smoke_ch06_pipeline_schedules_blocking";
  REQUIRE(run_program("ch06_pipeline_schedules", "--blocking-sends", blocking) == 0);
  const auto zb = program_summary(blocking)["schedules"]["zb1p"];
  double worst = 0;
  for (const auto& b : zb["bubble_per_rank"]) worst = std::max(worst, b.get<double>());
  CHECK(worst > zb["table2_bubble"].get<double>());
  const std::string blog = ds::read_text_file(blocking.string() + ".log");
  CHECK(blog.find("and sends stay in flight (no --blocking-sends)                      -> no") != std::string::npos);
  CHECK(log.find("and sends stay in flight (no --blocking-sends)                      -> yes") != std::string::npos);

  const fs::path bad = fs::temp_directory_path() / "ds_smoke_ch06_pipeline_schedules_bad";
  CHECK(run_program("ch06_pipeline_schedules", "--pp 8 --micro-batches 10", bad) == 0);   // --quick caps PP at 4
  CHECK(run_program("ch06_pipeline_schedules", "--w 5", bad) == 1);
  CHECK(ds::read_text_file(bad.string() + ".log").find("W is part of the full backward B") != std::string::npos);
  CHECK(run_program("ch06_pipeline_schedules", "--schedules gpipe,pipedream", bad) == 1);
  CHECK(run_program("ch06_pipeline_schedules", "--pp 3", bad) == 1);   // DualPipe needs an even PP
}
