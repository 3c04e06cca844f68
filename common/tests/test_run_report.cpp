#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/fsutil.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"
#include "common/run_report.hpp"
#include "test_helpers.hpp"

using namespace ds;
namespace fs = std::filesystem;

namespace {
// A run folder under dir/runs with a smoothed line chart, a bar chart and a summary.
std::string make_run(const test::TempDir& d, const std::string& name, const std::string& command = "") {
  const fs::path run = d.path / "runs" / name;
  fs::create_directories(run);
  RunReport report(run.string(), name, command);
  LineChart c;
  c.title = "loss";
  c.caption = "the smoothed training loss falls & the validation loss follows it";
  std::vector<double> x, y;
  for (int i = 0; i < 200; ++i) { x.push_back(i); y.push_back(3.0 / (1 + i * 0.05) + ((i * 7919) % 13) * 0.02); }
  c.series = {{"train", x, y, false, 25}, {"val", {0, 100, 199}, {3.0, 0.6, 0.4}, true}};
  report.plot("loss.svg", c);
  BarChart b;
  b.title = "memory";
  b.categories = {"a", "b"};
  b.series = {{"bytes", {0, 1}, {10, 20}}};
  report.plot("memory.svg", b);
  report.plot("loss.svg", c);   // listed once
  Summary s;
  s.set("final.val_loss", 0.4);
  s.set("seconds", 12.5);
  s.set("memory.peak_bytes", 1.01661e8);
  s.set("tokens_per_second", 5620.4);
  report.write(s);
  return run.string();
}

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("run page: index.html lists the headline numbers, each plot with its caption, and the runs index links it") {
  test::TempDir d("ds_test_run_page");
  const std::string run = make_run(d, "ch99_demo", "./build/bin/ch99_demo --quick '--data=it'\\''s.txt'");
  const std::string page = read_text_file(run + "/index.html");
  CHECK(page.find("<title>ch99_demo</title>") != std::string::npos);
  CHECK(page.find("./build/bin/ch99_demo --quick '--data=it'\\''s.txt'") != std::string::npos);
  CHECK(page.find("final.val_loss") != std::string::npos);
  CHECK(page.find("the smoothed training loss falls &amp; the validation loss follows it") != std::string::npos);
  CHECK(page.find("<img src=\"loss.svg\"") < page.find("<img src=\"memory.svg\""));
  CHECK(page.find("href=\"loss.csv\"") != std::string::npos);
  CHECK(count(page, "<img src=\"loss.svg\"") == 1);
  CHECK(page.find(">101.7 MB<") != std::string::npos);
  CHECK(page.find(">5,620 tokens/s<") != std::string::npos);
  CHECK(page.find(">12.5 s<") != std::string::npos);
  const std::string runs = read_text_file((d.path / "runs" / "index.html").string());
  CHECK(runs.find("href=\"ch99_demo/index.html\"") != std::string::npos);
  CHECK(read_text_file(run + "/summary.json").find("\"command\"") != std::string::npos);
}

TEST_CASE("line chart: a smoothed series draws its raw curve faint behind the smoothed one") {
  test::TempDir d("ds_test_run_page");
  const std::string run = make_run(d, "smooth");
  const std::string svg = read_text_file(run + "/loss.svg");
  CHECK(count(svg, "<polyline") == 3);   // raw train, smoothed train, val
  CHECK(count(svg, "stroke-opacity=\"0.25\"") == 1);
  const std::vector<double> s = smooth_series({0, 3, 0, 3, 0}, 3);
  CHECK(s[0] == doctest::Approx(1.5));
  CHECK(s[2] == doctest::Approx(2.0));
  CHECK(smooth_series({1, 2}, 0) == std::vector<double>{1, 2});
}

// The page a reader opens: every image on it must load in a real browser.
TEST_CASE("run page: headless Chromium loads every image of a run's index.html") {
  const char* candidates[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"};
  std::string browser;
  for (const char* c : candidates)
    if (fs::exists(c)) browser = c;
  if (browser.empty()) {
    MESSAGE("skipped: no Chromium (scripts/install-deps.sh installs it)");
    return;
  }
  test::TempDir d("ds_test_run_page");
  const std::string run = make_run(d, "browser");
  // The check runs in the page itself: every <img> complete with a natural width, written into the DOM.
  std::string page = read_text_file(run + "/index.html");
  page.replace(page.find("</body>"), 7,
               "<script>window.addEventListener('load',()=>{const i=[...document.images];"
               "document.body.setAttribute('data-images',i.length+':'+i.filter(x=>x.complete&&x.naturalWidth>0).length);});</script></body>");
  write_file_atomic(run + "/check.html", std::string_view(page));
  const std::string out = d.file("dom.txt");
  const std::string cmd = browser + " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
                          " --disable-component-update --disable-sync --user-data-dir=" + d.file("profile") +
                          " --virtual-time-budget=5000 --dump-dom file://" + run + "/check.html > " + out + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string dom = read_text_file(out);
  INFO(dom.substr(0, 400));
  CHECK(dom.find("data-images=\"2:2\"") != std::string::npos);
}

TEST_CASE("run page: headline numbers read as a reader writes them") {
  CHECK(headline_number("memory.parameters_bytes", 1.01661e8) == "101.7 MB");
  CHECK(headline_number("size_bytes", 512) == "512 B");
  CHECK(headline_number("tokens_per_second", 5620.4) == "5,620 tokens/s");
  CHECK(headline_number("seconds", 12.4) == "12.4 s");
  CHECK(headline_number("final_val_loss", 0.61083519) == "0.6108");
  CHECK(headline_number("steps", 2400) == "2,400");
  CHECK(headline_number("steps", 12) == "12");
  CHECK(headline_number("parameters", 1.6e7) == "16,000,000");
  CHECK(headline_number("ratio", 12.3456) == "12.35");
  CHECK(headline_number("lr", 5e-5) == "5e-5");
  CHECK(headline_number("tiny", 1.2345e-7) == "1.23e-7");
  CHECK(headline_number("delta", -0.25) == "-0.25");
}
