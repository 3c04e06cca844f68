#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/fsutil.hpp"
#include "common/progress.hpp"
#include "common/run.hpp"

using namespace ds;

TEST_CASE("table: aligned columns, numbers right-aligned") {
  Table t({"model", "loss"});
  t.row({"MHA", "2.03"});
  t.row({"a longer name", "10.5"});
  const std::string s = t.str();
  CHECK(s.find("  model          loss\n") == 0);
  CHECK(s.find("  MHA            2.03\n") != std::string::npos);
  CHECK(s.find("  a longer name  10.5\n") != std::string::npos);
  // A cell with multi-byte UTF-8 (a byte-level BPE spelling) pads by characters, not bytes.
  Table u({"token", "id"});
  u.row({"\xc4\xa0upon", "686"});
  u.row({"Once", "685"});
  CHECK(u.str().find("  \xc4\xa0upon  686\n  Once   685\n") != std::string::npos);
  // A signed change lines up whichever its sign.
  Table c({"method", "change"});
  c.row({"grpo", "+9.5"});
  c.row({"rs", "-10.5"});
  CHECK(c.str().find("  grpo      +9.5\n  rs       -10.5\n") != std::string::npos);
}

TEST_CASE("summary: dotted keys nest, non-finite numbers become null") {
  const auto dir = std::filesystem::temp_directory_path() / "ds_test_summary";
  std::filesystem::create_directories(dir);
  Summary s;
  s.set("speedup", 4.5);
  s.set("train.MHA.loss", 2.0);
  s.set("train.MQA.loss", 2.1);
  s.set("name", "x");
  s.set("curve", std::vector<double>{1, 2});
  s.set("bad", std::nan(""));
  s.write((dir / "summary.json").string());
  const auto j = nlohmann::json::parse(read_text_file((dir / "summary.json").string()));
  CHECK(j["train"]["MQA"]["loss"] == 2.1);
  CHECK(j["curve"].size() == 2);
  CHECK(j["bad"].is_null());
  std::filesystem::remove_all(dir);
}

TEST_CASE("fmt and progress formatting") {
  CHECK(fmt("%d-%s", 3, "x") == "3-x");
  CHECK(format_duration(42) == "0:42");
  CHECK(format_duration(3909) == "1:05:09");
  CHECK(format_count(1234567) == "1,234,567");
  CHECK(format_count(999) == "999");
}

TEST_CASE("progress: a log gets one line per 10%, a terminal one redrawn line") {
  std::ostringstream log;
  Progress p(100, "train", true, &log, 0);
  for (int i = 1; i <= 100; ++i) p.update(i, {{"loss", 2.5}}, 10);
  p.finish();
  const std::string s = log.str();
  CHECK(std::count(s.begin(), s.end(), '\n') == 11);   // 10%, 20%, ... 90%, first, and the final line
  CHECK(s.find("loss 2.500") != std::string::npos);
  std::ostringstream counts;
  Progress c(2, "control", true, &counts, 0);
  c.update(1, {{"step", 369.0}, {"loss", 1.0}});
  CHECK(counts.str().find("step 369 ") != std::string::npos);   // a count prints whole
  CHECK(counts.str().find("loss 1.000") != std::string::npos);  // a small whole value stays a value
  CHECK(s.find("tok/s") != std::string::npos);
  CHECK(s.find("done in") != std::string::npos);
  std::ostringstream tty;
  Progress q(3, "x", true, &tty, 1);
  q.update(1);
  q.update(2);
  CHECK(tty.str().find("\r") != std::string::npos);
  CHECK(tty.str().find("ETA") != std::string::npos);
  std::ostringstream off;
  Progress r(3, "x", false, &off, 0);
  r.update(3);
  r.finish();
  CHECK(off.str().empty());
}
