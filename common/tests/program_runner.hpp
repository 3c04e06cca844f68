// The smoke tests' way of running a chapter's program: `--quick --threads 1` into a fresh
// output folder, output captured beside it in <out>.log, exit status returned.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "common/fsutil.hpp"
#include "common/utf8.hpp"

namespace ds::test {

// Runs DS_BIN_DIR/<program> with args (after `env`, e.g. "NAME=value ..."); returns its exit
// status (-1 if it did not exit normally).
inline int run_program(const std::string& program, const std::string& args, const std::filesystem::path& out, const std::string& env = "") {
  std::filesystem::remove_all(out);
  const std::string cmd = env + " " + DS_BIN_DIR + "/" + program + " --quick --threads 1 --out " + out.string() + " " + args + " > " +
                          out.string() + ".log 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

inline nlohmann::json program_summary(const std::filesystem::path& out) {
  return nlohmann::json::parse(read_text_file((out / "summary.json").string()));
}

// Every plot on the run's index.html (run_report.hpp) has a caption: the page renders one as
// "<b>title</b> &mdash; caption" inside the plot's figcaption.
inline void check_captions(const std::filesystem::path& out) {
  const std::filesystem::path page = out / "index.html";
  if (!std::filesystem::exists(page)) return;
  const std::string html = read_text_file(page.string());
  for (size_t at = html.find("<figcaption>"); at != std::string::npos; at = html.find("<figcaption>", at + 1)) {
    const std::string fig = html.substr(at, html.find("</figcaption>", at) - at);
    INFO(out.string() << "/index.html: " << fig);
    CHECK(fig.find("</b> &mdash; ") != std::string::npos);
  }
}

// Every file exists and holds more than a header, and every plot of the run has a caption.
inline void check_files(const std::filesystem::path& out, std::initializer_list<const char*> files) {
  for (const char* f : files) {
    INFO(f);
    CHECK(std::filesystem::file_size(out / f) > 100);
  }
  check_captions(out);
}

// A file of n random bytes (most of it not UTF-8), for a program's --data: whatever text it
// prints or writes from such data (decoded samples, a model's half characters) must still be
// valid UTF-8 and valid JSON.
inline std::filesystem::path random_bytes_file(const std::string& name, size_t n, uint32_t seed) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / name;
  std::vector<uint8_t> bytes(n);
  for (uint8_t& b : bytes) {
    seed = seed * 1664525u + 1013904223u;   // an LCG is plenty for noise
    b = static_cast<uint8_t>(seed >> 24);
  }
  write_file_atomic(path.string(), bytes);
  return path;
}

// The run's terminal output (<out>.log) is valid UTF-8 and summary.json parses (nlohmann refuses
// invalid UTF-8 when writing, so a program that tried would have failed).
inline void check_text_output(const std::filesystem::path& out) {
  CHECK(is_valid_utf8(read_text_file(out.string() + ".log")));
  CHECK_NOTHROW(program_summary(out));
}

}  // namespace ds::test
