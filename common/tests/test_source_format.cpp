// .clang-format states the repository's column limit and this test holds every source line to it.
// (The rest of .clang-format is the style an editor applies to the lines it touches; the tree is
// written by hand and only the line length is checked.)
#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>

#include "common/fsutil.hpp"

namespace fs = std::filesystem;

namespace {
size_t columns(const std::string& line) {   // characters, not bytes: a UTF-8 continuation byte takes no column
  size_t n = 0;
  for (unsigned char c : line) n += (c & 0xC0) != 0x80;
  return n;
}
}  // namespace

TEST_CASE("format: every .cpp and .hpp line fits in .clang-format's ColumnLimit") {
  const fs::path src = DS_SOURCE_DIR;
  std::smatch m;
  const std::string style = ds::read_text_file((src / ".clang-format").string());
  REQUIRE(std::regex_search(style, m, std::regex("ColumnLimit: *([0-9]+)")));
  const size_t limit = std::stoul(m[1].str());
  int files = 0;
  for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.rfind("build", 0) == 0 || name[0] == '.' || name == "runs")) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->path().extension() != ".cpp" && it->path().extension() != ".hpp") continue;
    ++files;
    std::istringstream in(ds::read_text_file(it->path().string()));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (columns(line) > limit) {
        INFO(fs::relative(it->path(), src).string() << ":" << n << " has " << columns(line) << " columns");
        CHECK(columns(line) <= limit);
      }
    }
  }
  CHECK(files > 100);
}
