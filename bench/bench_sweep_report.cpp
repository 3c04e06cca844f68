// bench_sweep_report: the report of bench/sweep.sh. Reads its runs (JSON lines of
// bench_train_throughput and bench/torch_reference.py, each tagged with the sweep and the point)
// and writes, per sweep, the medians of C++ and of PyTorch's faster setting, their ratio, the C++
// step's GFLOP/s, a table, SVG plots with a CSV beside each, and summary.json.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/flags.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Point {
  std::map<std::string, std::vector<double>> tokens_per_s;   // impl -> runs
  std::vector<double> gflops;                                // the C++ runs' step GFLOP/s
};

struct Row {
  double value, cpp, torch, gflops;
  std::string torch_setting;
};
}  // namespace

int main(int argc, char** argv) {
  return run_main("bench_sweep_report", [&] {
    Flags flags("bench_sweep_report", "Tables and plots of bench/sweep.sh's runs: C++ and PyTorch tokens/s and their ratio against size.");
    std::string runs_path;
    RunOptions run;
    add_run_flags(flags, run, "bench_sweep");
    flags.add("--runs", runs_path, "runs.jsonl written by bench/sweep.sh");
    flags.parse(argc, argv);
    if (runs_path.empty()) fail("bench_sweep_report", "--runs is required (bench/sweep.sh passes its runs.jsonl)");
    RunReport report = start_run(run, flags);
    std::ifstream in(runs_path);
    if (!in) fail("bench_sweep_report", "cannot read '" + runs_path + "'");
    std::map<std::string, std::map<double, Point>> sweeps;   // sweep -> value -> runs
    std::string line;
    for (int64_t n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
        Point& p = sweeps[j.at("sweep").get<std::string>()][j.at("value").get<double>()];
        const std::string impl = j.at("impl").get<std::string>();
        p.tokens_per_s[impl].push_back(j.at("tokens_per_s").get<double>());
        if (impl == "cpp") p.gflops.push_back(j.at("gflops").get<double>());
      } catch (const nlohmann::json::exception&) {
        fail("bench_sweep_report", fmt("%s line %lld is not a run of bench/sweep.sh", runs_path.c_str(), (long long)n));
      }
    }
    // The hidden-size sweep's 256 is the mini preset at 8 x 128: the sequence sweep's first point.
    if (sweeps.count("seq") && sweeps["seq"].count(128) && sweeps.count("hidden")) sweeps["hidden"][256] = sweeps["seq"][128];
    print_header("bench/sweep", "training-step tokens/s of C++ and PyTorch (its faster thread setting) against size, medians of interleaved runs");
    Summary summary;
    for (const auto& [sweep, points] : sweeps) {
      const bool seq = sweep == "seq";
      std::vector<Row> rows;
      for (const auto& [value, p] : points) {
        if (!p.tokens_per_s.count("cpp")) continue;
        Row r{value, median(p.tokens_per_s.at("cpp")), 0, median(p.gflops), ""};
        for (const auto& [impl, v] : p.tokens_per_s)
          if (impl.rfind("pytorch", 0) == 0 && median(v) > r.torch) r.torch = median(v), r.torch_setting = impl;
        if (r.torch > 0) rows.push_back(r);
      }
      if (rows.empty()) continue;
      Table t({seq ? "seq len (batch x seq = 1024)" : "hidden size (8 x 128 tokens)", "C++ tokens/s", "PyTorch tokens/s", "PyTorch setting",
               "C++ / PyTorch", "C++ GFLOP/s"});
      Series cpp{"C++", {}, {}}, torch{"PyTorch (faster setting)", {}, {}}, ratio{"C++ / PyTorch", {}, {}};
      for (const Row& r : rows) {
        t.row({fmt("%.0f", r.value), fmt("%.0f", r.cpp), fmt("%.0f", r.torch), r.torch_setting, fmt("%.2fx", r.cpp / r.torch), fmt("%.0f", r.gflops)});
        for (Series* s : {&cpp, &torch, &ratio}) s->x.push_back(r.value);
        cpp.y.push_back(r.cpp);
        torch.y.push_back(r.torch);
        ratio.y.push_back(r.cpp / r.torch);
        const std::string key = sweep + "." + fmt("%.0f", r.value);
        summary.set(key + ".cpp_tokens_per_s", r.cpp);
        summary.set(key + ".pytorch_tokens_per_s", r.torch);
        summary.set(key + ".ratio", r.cpp / r.torch);
        summary.set(key + ".cpp_gflops", r.gflops);
      }
      t.print();
      std::printf("\n");
      const std::string what = seq ? "sequence length" : "hidden size";
      // Parity and issue 15's target as dashed lines, so the axis shows where the ratio stands.
      Series parity{"1x (parity)", {ratio.x.front(), ratio.x.back()}, {1, 1}, true}, target{"2.5x (target)", parity.x, {2.5, 2.5}, true};
      LineChart rc{"C++ / PyTorch training-step speed against " + what,
                   seq ? "sequence length (tokens per step fixed at 1,024)" : "hidden size (other sizes scaled as the mini preset)",
                   "C++ tokens/s / PyTorch tokens/s",
                   {ratio, target, parity}};
      report.plot("ratio_vs_" + sweep + ".svg", rc);
      LineChart tc{"Training-step tokens/s against " + what, rc.xlabel, "tokens/s", {cpp, torch}};
      tc.logy = true;
      report.plot("tokens_vs_" + sweep + ".svg", tc);
    }
    if (sweeps.empty()) fail("bench_sweep_report", runs_path + " holds no runs");
    report.write(summary);
    std::printf("wrote %s/ratio_vs_*.svg, tokens_vs_*.svg (CSV beside each) and summary.json\n", run.out.c_str());
    return 0;
  });
}
