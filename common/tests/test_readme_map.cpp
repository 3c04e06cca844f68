// The top-level README's map of the book lists every program the build makes and nothing else:
// one table row per program, `chNN_name` in its second column, the files to read first in its
// last. Adding a program means adding its row; this test fails until someone does.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/fsutil.hpp"

namespace fs = std::filesystem;

namespace {
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(row.substr(1));   // after the leading '|'
  while (std::getline(in, cell, '|')) out.push_back(cell);
  return out;
}

std::vector<std::string> backticked(const std::string& s) {
  std::vector<std::string> out;
  const std::regex re("`([^`]+)`");
  for (std::sregex_iterator it(s.begin(), s.end(), re), end; it != end; ++it) out.push_back((*it)[1].str());
  return out;
}

struct MapRow {
  std::string program;
  std::vector<std::string> read_first;
};

// The rows of the table under "## The map of the book" (up to the next "## " heading).
std::vector<MapRow> readme_map() {
  std::istringstream in(ds::read_text_file(std::string(DS_SOURCE_DIR) + "/README.md"));
  std::vector<MapRow> rows;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) inside = line == "## The map of the book";
    if (!inside || line.rfind("| ", 0) != 0 || line.rfind("| chapter ", 0) == 0) continue;
    const std::vector<std::string> c = cells(line);
    REQUIRE_MESSAGE(c.size() == 5, line);
    const std::vector<std::string> names = backticked(c[1]);
    REQUIRE_MESSAGE(names.size() == 1, line);
    rows.push_back({names[0], backticked(c[4])});
  }
  return rows;
}

// What CMake builds (cmake/Chapter.cmake): bin/chNN_<stem> for each chNN/programs/<stem>.cpp of
// every chapter folder with a CMakeLists.txt.
std::set<std::string> registered_programs() {
  std::set<std::string> out;
  const std::regex chapter("ch[0-9][0-9]");
  for (const auto& d : fs::directory_iterator(DS_SOURCE_DIR)) {
    const std::string ch = d.path().filename().string();
    if (!std::regex_match(ch, chapter) || !fs::exists(d.path() / "CMakeLists.txt") || !fs::exists(d.path() / "programs")) continue;
    for (const auto& f : fs::directory_iterator(d.path() / "programs"))
      if (f.path().extension() == ".cpp") out.insert(ch + "_" + f.path().stem().string());
  }
  return out;
}
}  // namespace

TEST_CASE("README's map of the book lists exactly the programs the build makes, each once, with files that exist") {
  const std::vector<MapRow> rows = readme_map();
  REQUIRE(rows.size() > 10);
  std::set<std::string> listed;
  for (const MapRow& r : rows) {
    INFO(r.program);
    CHECK_MESSAGE(listed.insert(r.program).second, "listed twice");
    CHECK_MESSAGE(fs::exists(fs::path(DS_BIN_DIR) / r.program), "listed in README.md but not built");
    CHECK(!r.read_first.empty());
    for (const std::string& f : r.read_first) {
      INFO(f);
      CHECK_MESSAGE(fs::exists(fs::path(DS_SOURCE_DIR) / f), "a file to read first that does not exist");
    }
  }
  for (const std::string& p : registered_programs()) {
    INFO(p);
    CHECK_MESSAGE(listed.count(p) == 1, "built but missing from README.md's map of the book");
  }
}
