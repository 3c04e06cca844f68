// Gantt charts: which device runs which micro-batch when (pipeline schedules, ch06).
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "common/plot.hpp"
#include "common/svg.hpp"

namespace ds {

namespace {
// White text on dark fills, black on light ones (Okabe-Ito's orange and sky blue are light).
const char* label_color(const std::string& fill) {
  if (fill.size() != 7 || fill[0] != '#') return "#fff";
  const auto channel = [&](size_t i) { return std::stoi(fill.substr(i, 2), nullptr, 16) / 255.0; };
  return 0.299 * channel(1) + 0.587 * channel(3) + 0.114 * channel(5) > 0.6 ? "#000" : "#fff";
}

// Box labels are drawn at 10 px, or 8 px in a box too narrow for that.
constexpr int kLabelFont = 10, kSmallLabelFont = 8;

// The chart width at which every labelled box holds its label at the small size, the lane names
// taking `left` pixels: the time axis stretches, nothing is dropped.
int fitting_width(const Gantt& g, double left, double tmax) {
  const double right = g.width - 20;
  const svg::Axis ax = svg::Axis::make(0, std::max(tmax, 1e-9), left, right, false, true);
  double stretch = 1;
  for (const auto& b : g.boxes)
    if (!b.label.empty() && b.duration > 0)
      stretch = std::max(stretch, (svg::text_width(b.label, kSmallLabelFont) + 2) / (ax.map(b.start + b.duration) - ax.map(b.start)));
  return static_cast<int>(std::ceil(left + (right - left) * stretch + 20));
}
}  // namespace

void write_gantt(const std::string& path, const Gantt& g) {
  std::vector<std::string> cats = g.categories;
  double tmax = 0;
  for (const auto& b : g.boxes) {
    if (std::find(cats.begin(), cats.end(), b.category) == cats.end()) cats.push_back(b.category);
    tmax = std::max(tmax, b.start + b.duration);
  }
  const auto color = [&](size_t i) -> std::string { return i < g.colors.size() ? g.colors[i] : plot_color(i); };
  double lane_w = 0;
  for (const auto& l : g.lanes) lane_w = std::max(lane_w, svg::text_width(l, 12));
  const double lane_h = 28;
  const int height = g.height > 0 ? g.height : static_cast<int>(110 + lane_h * static_cast<double>(g.lanes.size()) + 30);
  const double left = 20 + lane_w + 10, top = 50;
  const int width = std::max(g.width, fitting_width(g, left, tmax));
  const double right = width - 20;
  const double bottom = top + lane_h * static_cast<double>(g.lanes.size());
  const svg::Axis ax = svg::Axis::make(0, std::max(tmax, 1e-9), left, right, false, true);

  svg::Doc d(width, height);
  d.text(width / 2.0, 28, g.title, 16, "middle", "font-weight=\"bold\"");
  for (size_t i = 0; i < g.lanes.size(); ++i) d.text(left - 8, top + lane_h * (static_cast<double>(i) + 0.5) + 4, g.lanes[i], 12, "end");
  for (double t : ax.ticks) {
    d.line(ax.map(t), top, ax.map(t), bottom, "#eee");
    d.text(ax.map(t), bottom + 16, svg::tick_label(t), 11);
  }
  if (g.show_idle)
    for (size_t i = 0; i < g.lanes.size(); ++i) d.rect(left, top + lane_h * static_cast<double>(i) + 3, right - left, lane_h - 6, "#e4e4e4");
  for (const auto& b : g.boxes) {
    const size_t ci = static_cast<size_t>(std::find(cats.begin(), cats.end(), b.category) - cats.begin());
    const double x0 = ax.map(b.start), x1 = ax.map(b.start + b.duration), y = top + lane_h * b.lane + 3;
    d.rect(x0, y, x1 - x0, lane_h - 6, color(ci), "stroke=\"#fff\" stroke-width=\"1\"");
    const int font = x1 - x0 >= svg::text_width(b.label, kLabelFont) + 2 ? kLabelFont : kSmallLabelFont;
    if (!b.label.empty() && x1 - x0 >= svg::text_width(b.label, font) + 2)
      d.text((x0 + x1) / 2, y + lane_h / 2 + 1, b.label, font, "middle", (std::string("fill=\"") + label_color(color(ci)) + "\"").c_str());
  }
  d.line(left, bottom, right, bottom, "#333");
  d.text((left + right) / 2, bottom + 34, g.xlabel, 13);
  double lx = left;
  for (size_t i = 0; i <= cats.size(); ++i) {   // legend row under the axis: the categories drawn, then idle
    if (i == cats.size() && !g.show_idle) break;
    if (i < cats.size() && std::none_of(g.boxes.begin(), g.boxes.end(), [&](const GanttBox& b) { return b.category == cats[i]; })) continue;
    const std::string name = i < cats.size() ? cats[i] : "idle";
    d.rect(lx, bottom + 48, 14, 12, i < cats.size() ? color(i) : "#e4e4e4");
    d.text(lx + 18, bottom + 58, name, 12, "start");
    lx += 40 + svg::text_width(name, 12);
  }
  svg::write_text_file(path, d.finish());

  std::ostringstream o;
  o << "lane,start,duration,label,category\n";
  for (const auto& b : g.boxes)
    o << '"' << (b.lane < static_cast<int>(g.lanes.size()) ? g.lanes[static_cast<size_t>(b.lane)] : std::to_string(b.lane)) << "\"," << b.start
      << ',' << b.duration << ",\"" << b.label << "\",\"" << b.category << "\"\n";
  svg::write_text_file(svg::csv_path(path), o.str());
}

}  // namespace ds
