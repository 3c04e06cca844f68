#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "common/fsutil.hpp"
#include "common/plot.hpp"
#include "common/svg.hpp"
#include "test_helpers.hpp"

using namespace ds;

namespace {
int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("line chart: one polyline per series, legend, CSV beside it, NaN skipped") {
  test::TempDir d("ds_test_plot");
  LineChart c;
  c.title = "Loss & <friends>";
  c.xlabel = "step";
  c.ylabel = "loss";
  c.series = {{"train", {0, 1, 2}, {3, 2, std::nan("")}}, {"val", {0, 2}, {3.5, 2.5}, true}};
  write_line_chart(d.file("a.svg"), c);
  const std::string svg = read_text_file(d.file("a.svg"));
  CHECK(count(svg, "<polyline") == 2);
  CHECK(svg.find("Loss &amp; &lt;friends&gt;") != std::string::npos);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("stroke-dasharray") != std::string::npos);
  const std::string csv = read_text_file(d.file("a.csv"));
  CHECK(csv.find("series,x,y\n\"train\",0,3\n") == 0);
  CHECK(count(csv, "\n") == 6);
}

TEST_CASE("line chart: log axes use powers of ten, an empty chart still renders") {
  test::TempDir d("ds_test_plot");
  LineChart c;
  c.logx = c.logy = true;
  c.series = {{"a", {1, 10, 1000}, {0.01, 1, 100}}};
  write_line_chart(d.file("log.svg"), c);
  const std::string svg = read_text_file(d.file("log.svg"));
  CHECK(svg.find(">1000<") != std::string::npos);
  CHECK(svg.find(">0.01<") != std::string::npos);
  LineChart empty;
  write_line_chart(d.file("empty.svg"), empty);
  CHECK(read_text_file(d.file("empty.svg")).find("(no data)") != std::string::npos);
}

TEST_CASE("a log axis ends at the 1-2-5 ticks around the data, tick labels are short") {
  const svg::Axis a = svg::Axis::make(1, 16, 0, 100, true, false);
  CHECK(std::pow(10.0, a.lo) == doctest::Approx(1));
  CHECK(std::pow(10.0, a.hi) == doctest::Approx(20));   // not 100: data ending at 16
  CHECK(a.ticks.back() == doctest::Approx(20));
  const svg::Axis b = svg::Axis::make(0.03, 700, 0, 100, true, false);
  CHECK(std::pow(10.0, b.lo) == doctest::Approx(0.01));   // five decades: ticks at powers of ten only
  CHECK(std::pow(10.0, b.hi) == doctest::Approx(1000));
  CHECK(svg::tick_label(1e6) == "1e6");
  CHECK(svg::tick_label(5e-4) == "5e-4");
  CHECK(svg::tick_label(-2e7) == "-2e7");
  CHECK(svg::tick_label(9.7e6) == "1e7");
  CHECK(svg::tick_label(250) == "250");
}

TEST_CASE("bar chart, heatmap and Gantt write their shapes and CSVs") {
  test::TempDir d("ds_test_plot");
  BarChart b;
  b.categories = {"MHA", "GQA", "MQA"};
  b.series = {{"KV MB", {}, {4, 1, 0.5}}, {"loss", {}, {2.0, 2.1, 2.2}}};
  write_bar_chart(d.file("bar.svg"), b);
  CHECK(count(read_text_file(d.file("bar.svg")), "<rect") >= 7);   // background + 6 bars + legend
  CHECK(read_text_file(d.file("bar.csv")).find("\"MQA\",0.5,2.2") != std::string::npos);

  Heatmap h;
  h.rows = 2;
  h.cols = 3;
  h.values = {0, 0.5, 1, 1, 0.5, 0};
  h.annotate = true;
  write_heatmap(d.file("heat.svg"), h);
  const std::string hs = read_text_file(d.file("heat.svg"));
  CHECK(hs.find("#440154") != std::string::npos);   // viridis' lowest colour for 0
  CHECK(hs.find("#fde725") != std::string::npos);   // and its highest for 1
  CHECK(read_text_file(d.file("heat.csv")).find("1,1,0.5,0") != std::string::npos);
  h.values.pop_back();
  CHECK_THROWS_AS(write_heatmap(d.file("bad.svg"), h), std::invalid_argument);

  Gantt g;
  g.lanes = {"device 0", "device 1"};
  g.boxes = {{0, 0, 1, "0", "forward"}, {1, 1, 1, "0", "forward"}, {1, 2, 2, "0", "backward"}};
  write_gantt(d.file("gantt.svg"), g);
  const std::string gs = read_text_file(d.file("gantt.svg"));
  CHECK(gs.find(">backward<") != std::string::npos);
  CHECK(read_text_file(d.file("gantt.csv")).find("\"device 1\",2,2,\"0\",\"backward\"") != std::string::npos);
}

TEST_CASE("sparkline: lowest to highest block, resampled to the width") {
  CHECK(sparkline({0, 1, 2, 3, 4, 5, 6, 7}) == "▁▂▃▄▅▆▇█");
  CHECK(sparkline({1, 1, 1}) == "▄▄▄");
  std::vector<double> many(100);
  for (int i = 0; i < 100; ++i) many[static_cast<size_t>(i)] = i;
  const std::string s = sparkline(many, 10);
  CHECK(s.size() == 10 * std::string("▁").size());
  CHECK(sparkline_summary({{"loss", {}, {3, 2, 1}}}).find("loss") != std::string::npos);
}

TEST_CASE("tail_mean: the mean of a curve's last fraction, at least one point") {
  const std::vector<double> ys = {9, 9, 9, 1, 2, 3, 4, 5, 6, 7};
  CHECK(tail_mean(ys, 0.2) == doctest::Approx(6.5));   // the last 2 of 10
  CHECK(tail_mean(ys, 0.01) == 7);                    // never fewer than one point
  CHECK(tail_mean(ys, 1.0) == doctest::Approx(5.5));
  CHECK(tail_mean({}, 0.5) == 0);
}
