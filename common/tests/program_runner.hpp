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

namespace ds::test {

// Runs DS_BIN_DIR/<program> with args; returns its exit status (-1 if it did not exit normally).
inline int run_program(const std::string& program, const std::string& args, const std::filesystem::path& out) {
  std::filesystem::remove_all(out);
  const std::string cmd = std::string(DS_BIN_DIR) + "/" + program + " --quick --threads 1 --out " + out.string() + " " + args + " > " +
                          out.string() + ".log 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

inline nlohmann::json program_summary(const std::filesystem::path& out) {
  return nlohmann::json::parse(read_text_file((out / "summary.json").string()));
}

// Every file exists and holds more than a header.
inline void check_files(const std::filesystem::path& out, std::initializer_list<const char*> files) {
  for (const char* f : files) {
    INFO(f);
    CHECK(std::filesystem::file_size(out / f) > 100);
  }
}

}  // namespace ds::test
