// What the reader is told matches what there is: every file, folder and program a README or a
// program's --help names exists, and a test count a README states is the suite's.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/fsutil.hpp"

namespace fs = std::filesystem;

namespace {
const fs::path kSource = DS_SOURCE_DIR;
const fs::path kBin = DS_BIN_DIR;

std::vector<fs::path> readmes() {
  std::vector<fs::path> out = {kSource / "README.md"};
  for (const auto& d : fs::directory_iterator(kSource))
    if (d.is_directory() && fs::exists(d.path() / "README.md") && d.path().filename().string().rfind("build", 0) != 0)
      out.push_back(d.path() / "README.md");
  return out;
}

// Programs the build makes: chNN_<stem> for chNN/programs/<stem>.cpp (or chNN/<part>/programs/), bench_<x> for bench/bench_<x>.cpp.
std::set<std::string> programs() {
  std::set<std::string> out;
  const std::regex chapter("ch[0-9][0-9]");
  for (const auto& d : fs::directory_iterator(kSource)) {
    const std::string ch = d.path().filename().string();
    if (!std::regex_match(ch, chapter)) continue;
    for (const auto& part : fs::recursive_directory_iterator(d.path()))   // chNN/programs and a part's, chNN/parallel/programs
      if (part.is_directory() && part.path().filename() == "programs")
        for (const auto& f : fs::directory_iterator(part.path()))
          if (f.path().extension() == ".cpp") out.insert(ch + "_" + f.path().stem().string());
  }
  for (const auto& f : fs::directory_iterator(kSource / "bench"))
    if (f.path().extension() == ".cpp" && f.path().stem().string().rfind("bench_", 0) == 0) out.insert(f.path().stem().string());
  return out;
}

// Repository paths a text names ("ch06/pretrain.hpp", "common/tests/", "bench/sweep.sh"), not
// those inside another path (runs/ch06_pretrain/...) and not placeholders (fuzz/corpus/TARGET).
std::vector<std::string> named_paths(const std::string& text) {
  static const std::regex re("(^|[^A-Za-z0-9_./-])((ch[0-9][0-9]|common|bench|scripts|tools|fuzz|cmake)/[A-Za-z0-9_./-]*[A-Za-z0-9_/])");
  std::vector<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    const std::string p = (*it)[2].str();
    if (std::regex_search(p, std::regex("[A-Z]{3,}"))) continue;   // TARGET, NAME: a placeholder
    out.push_back(p);
  }
  return out;
}

// A path exists as written, or names a header/source pair without its extension ("common/deepseek_config.{hpp,cpp}").
bool path_exists(const std::string& p) {
  const fs::path f = kSource / p;
  return fs::exists(f) || fs::exists(f.string() + ".hpp") || fs::exists(f.string() + ".cpp");
}

// Program names a text uses as commands or titles (not inside a path: runs/bench_sweep/ is a folder).
std::vector<std::string> named_programs(const std::string& text) {
  static const std::regex re("(^|[^A-Za-z0-9_/.-])((ch[0-9][0-9]|bench)_[a-z0-9_]*[a-z0-9])\\b");
  std::vector<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) out.push_back((*it)[2].str());
  return out;
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p.get())) > 0;) out.append(buf, n);
  return out;
}

// Markdown files a text names (README.md, ../ch06/README.md): each must exist beside the text
// (`dir`), from the top of the repository, or (a bare name) somewhere in it.
void check_markdown(const std::string& where, const std::string& text, const fs::path& dir) {
  static const std::regex re("(^|[^A-Za-z0-9_./-])([A-Za-z0-9_./-]*[A-Za-z0-9_-]\\.md)\\b");
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    const std::string p = (*it)[2].str();
    bool found = fs::exists(dir / p) || fs::exists(kSource / p);
    if (!found && p.find('/') == std::string::npos)
      for (auto f = fs::recursive_directory_iterator(kSource); !found && f != fs::recursive_directory_iterator(); ++f) {
        const std::string n = f->path().filename().string();
        if (f->is_directory() && (n.rfind("build", 0) == 0 || n[0] == '.')) f.disable_recursion_pending();
        found = n == p;
      }
    INFO(where << " names " << p);
    CHECK_MESSAGE(found, "a document that does not exist");
  }
}

// Markdown links to local files ([text](../ch06/README.md#section)) resolve from the README's folder.
void check_links(const std::string& where, const std::string& text, const fs::path& dir) {
  static const std::regex re("\\]\\(([^)#\\s]+)(#[^)]*)?\\)");
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    const std::string target = (*it)[1].str();
    if (target.find("://") != std::string::npos || target.rfind("mailto:", 0) == 0) continue;
    INFO(where << " links " << target);
    CHECK_MESSAGE(fs::exists(dir / target), "a link to a file that does not exist");
  }
}

void check_names(const std::string& where, const std::string& text, const std::set<std::string>& progs) {
  for (const std::string& p : named_paths(text)) {
    INFO(where << " names " << p);
    CHECK_MESSAGE(path_exists(p), "a file or folder that does not exist");
  }
  for (const std::string& p : named_programs(text)) {
    INFO(where << " names " << p);
    CHECK_MESSAGE(progs.count(p) == 1, "a program the build does not make");
  }
}
}  // namespace

TEST_CASE("docs: every file, folder and program a README names exists") {
  const std::set<std::string> progs = programs();
  REQUIRE(progs.size() > 20);
  for (const fs::path& r : readmes()) {
    const std::string where = fs::relative(r, kSource).string(), text = ds::read_text_file(r.string());
    check_names(where, text, progs);
    check_markdown(where, text, r.parent_path());
    check_links(where, text, r.parent_path());
  }
}

TEST_CASE("docs: every file, folder and program a program's --help names exists") {
  const std::set<std::string> progs = programs();
  for (const std::string& p : progs) {
    if (!fs::exists(kBin / p)) continue;   // an MPI program where MPI is not installed
    const std::string help = run_capture((kBin / p).string() + " --help 2>&1");
    INFO(p);
    REQUIRE(help.find("usage:") != std::string::npos);
    check_names(p + " --help", help, progs);
    check_markdown(p + " --help", help, kSource);
  }
}

TEST_CASE("docs: a test count a README states is the suite's") {
  const std::string listing = run_capture("ctest --test-dir " + (kBin.parent_path()).string() + " -N 2>/dev/null");
  std::smatch m;
  REQUIRE(std::regex_search(listing, m, std::regex("Total Tests: ([0-9]+)")));
  const int suite = std::stoi(m[1].str());
  const std::regex stated("([0-9][0-9,]*) test cases");
  for (const fs::path& r : readmes()) {
    const std::string text = ds::read_text_file(r.string());
    for (std::sregex_iterator it(text.begin(), text.end(), stated), end; it != end; ++it) {
      std::string n = (*it)[1].str();
      n.erase(std::remove(n.begin(), n.end(), ','), n.end());
      INFO(fs::relative(r, kSource).string() << " says " << (*it)[0].str() << "; ctest -N lists " << suite);
      CHECK(std::stoi(n) == suite);
    }
  }
}
