// A chapter README is a guide a reader can hold in their head: at most 300 lines (commands
// first, then per program what you see and what to try); measurement logs live in bench/results/.
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>

#include "common/fsutil.hpp"

namespace fs = std::filesystem;

TEST_CASE("docs: every chapter README (and a chapter part's) has at most 300 lines") {
  const std::regex chapter("ch[0-9][0-9]");
  int checked = 0;
  for (const auto& d : fs::recursive_directory_iterator(DS_SOURCE_DIR)) {
    const fs::path readme = d.path() / "README.md";   // chNN/README.md and a part's, like chNN/<part>/README.md
    const fs::path rel = fs::relative(d.path(), DS_SOURCE_DIR);
    if (!d.is_directory() || !std::regex_match(rel.begin()->string(), chapter) || std::distance(rel.begin(), rel.end()) > 2 ||
        !fs::exists(readme))
      continue;
    std::istringstream in(ds::read_text_file(readme.string()));
    int lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    INFO(fs::relative(readme, DS_SOURCE_DIR).string() << " has " << lines << " lines");
    CHECK(lines <= 300);
    ++checked;
  }
  CHECK(checked >= 8);
}
