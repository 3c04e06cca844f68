// Plots as hand-written SVG (no dependency), each with a CSV of the same data beside it
// (same path, .csv), so a figure can be re-plotted with any tool. Open the SVG in a browser.
//   line charts: loss curves, per-token times, cache sizes (several series, log axes)
//   bar charts:  grouped comparisons
//   heatmaps:    attention weights, positional encodings, expert load over steps
//   Gantt:       pipeline schedules (ch06)
// and a one-line terminal sparkline per series for programs' text output.
#pragma once

#include <string>
#include <vector>

namespace ds {

struct Series {
  std::string name;
  std::vector<double> x, y;
  bool dashed = false;
  // > 1: draw the mean of each run of `smooth` neighbouring points, with the raw curve faint
  // behind it (noisy training losses would otherwise hide the validation curve).
  int smooth = 0;
};

// Every chart's caption is the one line its run page (run_report.hpp) prints under it: what to
// look for in the picture.
struct LineChart {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  bool logx = false, logy = false;
  int width = 800, height = 500;
  std::string caption{};
};
void write_line_chart(const std::string& svg_path, const LineChart& chart);

struct BarChart {
  std::string title, xlabel, ylabel;
  std::vector<std::string> categories;              // one group of bars per category
  std::vector<Series> series;                       // series[s].y[c] is the bar of series s in category c
  bool logy = false, value_labels = true;
  int width = 800, height = 500;
  std::string caption{};
};
void write_bar_chart(const std::string& svg_path, const BarChart& chart);

struct Heatmap {
  std::string title, xlabel, ylabel;
  int64_t rows = 0, cols = 0;
  std::vector<double> values;                       // row-major rows x cols
  std::vector<std::string> row_labels, col_labels;  // optional
  bool annotate = false;                            // print values in cells (when they are large enough)
  bool annotate_zeros = true;                       // false: leave cells holding exactly 0 blank
  bool diverging = false;                           // blue-white-red around 0 instead of viridis
  int width = 800, height = 560;
  std::string caption{};
};
void write_heatmap(const std::string& svg_path, const Heatmap& map);

struct GanttBox {
  int lane = 0;
  double start = 0, duration = 1;
  std::string label;                                // text inside the box (e.g. micro-batch number)
  std::string category;                             // colour and legend entry (e.g. "forward")
};
struct Gantt {
  std::string title, xlabel = "time";
  std::vector<std::string> lanes;                   // e.g. "device 0"
  std::vector<GanttBox> boxes;
  std::vector<std::string> categories;              // optional: legend order (else order of first appearance)
  std::vector<std::string> colors;                  // optional: "#rrggbb" per entry of categories
  bool show_idle = false;                           // grey lanes behind the boxes, "idle" in the legend
  int width = 900, height = 0;                      // height 0: from the number of lanes
  std::string caption{};
};
void write_gantt(const std::string& svg_path, const Gantt& chart);

// The centred moving average over `window` points (fewer at the ends); window <= 1 returns ys.
std::vector<double> smooth_series(const std::vector<double>& ys, int window);
// The mean of the last `fraction` of ys (at least one point; 0 for none): where a noisy curve ends.
double tail_mean(const std::vector<double>& ys, double fraction);

// "▁▂▄▆█" resampled to `width` characters; NaNs become spaces.
std::string sparkline(const std::vector<double>& ys, int width = 40);
// "name  2.310 -> 1.204  ▇▆▄▃▂▂▁" for each series.
std::string sparkline_summary(const std::vector<Series>& series, int width = 40);

// Colour-blind-safe palette (Okabe-Ito), cycled.
const char* plot_color(size_t i);

}  // namespace ds
