// What every program shares: the common flags (--quick, --seed, --threads, --out), the output
// folder and its report (run_report.hpp), a header saying what the reader is looking at, aligned
// result tables, and the one-sentence failure exit.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/flags.hpp"
#include "common/run_report.hpp"
#include "common/summary.hpp"

namespace ds {

struct RunOptions {
  bool quick = false;     // tiny settings that finish in seconds (the smoke tests use them)
  uint64_t seed = 1234;
  int threads = 0;        // 0 = all cores
  std::string out;        // default runs/<program>/
};

void add_run_flags(Flags& flags, RunOptions& run, const std::string& program);
// Sets OpenMP's thread count (0 = all cores), which every parallel kernel and ds::gemm use; returns it.
int set_threads(int threads);
// Sets the thread count, creates the output folder and returns the run's report (its page
// records flags.command(), the plots written through it and the summary).
RunReport start_run(RunOptions& run, const Flags& flags);
// The same for a program that parsed its flags elsewhere and kept the command line.
RunReport start_run(RunOptions& run, const std::string& program, const std::string& command);
void print_header(const std::string& title, const std::string& what);

// Prints "program: sentence" to stderr and exits with status 1.
[[noreturn]] void fail(const std::string& program, const std::string& sentence);

// Runs a program's body; any exception that escapes (a bad checkpoint, a shape the model
// cannot take) becomes one sentence and exit status 1 instead of a crash.
int run_main(const std::string& program, const std::function<int()>& body);

std::string fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Columns padded to their widest cell; numbers are right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string str() const;
  void print() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};


}  // namespace ds
