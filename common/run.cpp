#include "common/run.hpp"

#include <omp.h>

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/fsutil.hpp"
#include "common/utf8.hpp"

namespace ds {

void add_run_flags(Flags& flags, RunOptions& run, const std::string& program) {
  run.out = "runs/" + program;
  flags.add_flag("--quick", run.quick, "tiny settings that finish in a few seconds (smoke tests): every flag not given takes its --quick value");
  flags.add("--seed", run.seed, "random seed: the same seed and thread count give the same numbers");
  flags.add("--threads", run.threads, "threads to use (0 = all cores)").min(0).max(256);
  flags.add("--out", run.out, "folder for plots, CSV files and summary.json");
}

int set_threads(int threads) {
  const int n = threads > 0 ? threads : omp_get_num_procs();
  omp_set_num_threads(n);   // ds::gemm splits its products over these too; Eigen's own threads stay off
  return n;
}

RunReport start_run(RunOptions& run, const Flags& flags) { return start_run(run, flags.program(), flags.command()); }

RunReport start_run(RunOptions& run, const std::string& program, const std::string& command) {
  run.threads = set_threads(run.threads);
  try {
    claim_folder(run.out, FolderUse::Run, "--out");   // never write into a folder of the reader's own files
  } catch (const std::exception& e) {
    fail("output", e.what());
  }
  std::error_code ec;
  std::filesystem::create_directories(run.out, ec);
  if (ec || !std::filesystem::is_directory(run.out)) fail("output", "cannot create the folder '" + run.out + "': " + ec.message());
  return RunReport(run.out, program, command);
}

void print_header(const std::string& title, const std::string& what) {
  std::printf("== %s ==\nWhat you are looking at: %s\n\n", title.c_str(), what.c_str());
}

void fail(const std::string& program, const std::string& sentence) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s: %s\n", program.c_str(), valid_utf8(sentence).c_str());   // it may quote the user's bytes
  std::exit(1);
}

int run_main(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    fail(program, e.what());
  }
}

std::string fmt(const char* format, ...) {
  va_list a, b;
  va_start(a, format);
  va_copy(b, a);
  const int n = std::vsnprintf(nullptr, 0, format, a);
  va_end(a);
  std::string s(static_cast<size_t>(std::max(n, 0)) + 1, '\0');
  std::vsnprintf(s.data(), s.size(), format, b);
  va_end(b);
  s.pop_back();
  return s;
}

namespace {
bool numeric(const std::string& s) {
  return !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') && s.size() > 1));
}
}  // namespace

// Columns line up by characters, not bytes: a UTF-8 continuation byte (10xxxxxx) takes no column.
namespace {
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}
}  // namespace

std::string Table::str() const {
  std::vector<std::vector<std::string>> rows;   // cells may hold decoded or user text: made valid UTF-8
  for (const auto& r : rows_) {
    rows.emplace_back();
    for (const std::string& c : r) rows.back().push_back(valid_utf8(c));
  }
  std::vector<size_t> w(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], display_width(r[i]));
  };
  widen(header_);
  for (const auto& r : rows) widen(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < w.size(); ++i) {
      const std::string c = i < r.size() ? r[i] : "";
      const std::string pad(w[i] - display_width(c), ' ');
      out += (i ? "  " : "  ") + (numeric(c) && i > 0 ? pad + c : c + pad);
    }
    out += "\n";
  };
  line(header_);
  std::string rule;
  for (size_t i = 0; i < w.size(); ++i) rule += "  " + std::string(w[i], '-');
  out += rule + "\n";
  for (const auto& r : rows) line(r);
  return out;
}

void Table::print() const { std::fputs(str().c_str(), stdout); }

}  // namespace ds
