// Line charts and sparklines.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/plot.hpp"
#include "common/svg.hpp"

namespace ds {

const char* plot_color(size_t i) {
  static const char* c[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"};
  return c[i % 8];
}

std::vector<double> smooth_series(const std::vector<double>& ys, int window) {
  if (window <= 1) return ys;
  const int64_t n = static_cast<int64_t>(ys.size()), half = window / 2;
  std::vector<double> out(ys.size());
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    int64_t cnt = 0;
    for (int64_t j = std::max<int64_t>(0, i - half); j <= std::min(n - 1, i + half); ++j)
      if (std::isfinite(ys[static_cast<size_t>(j)])) { s += ys[static_cast<size_t>(j)]; ++cnt; }
    out[static_cast<size_t>(i)] = cnt ? s / static_cast<double>(cnt) : std::nan("");
  }
  return out;
}

double tail_mean(const std::vector<double>& ys, double fraction) {
  if (ys.empty()) return 0.0;
  const size_t n = std::clamp<size_t>(static_cast<size_t>(static_cast<double>(ys.size()) * fraction), 1, ys.size());
  double s = 0;
  for (size_t i = ys.size() - n; i < ys.size(); ++i) s += ys[i];
  return s / static_cast<double>(n);
}

namespace {
bool usable(double x, double y, const LineChart& c) {
  return std::isfinite(x) && std::isfinite(y) && (!c.logx || x > 0) && (!c.logy || y > 0);
}

void write_csv(const std::string& path, const std::vector<Series>& series) {
  std::ostringstream o;
  o << "series,x,y\n";
  for (const auto& s : series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) o << '"' << s.name << "\"," << s.x[i] << ',' << s.y[i] << '\n';
  svg::write_text_file(svg::csv_path(path), o.str());
}
}  // namespace

void write_line_chart(const std::string& path, const LineChart& c) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const auto& s : c.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (usable(s.x[i], s.y[i], c)) {
        xmin = std::min(xmin, s.x[i]); xmax = std::max(xmax, s.x[i]);
        ymin = std::min(ymin, s.y[i]); ymax = std::max(ymax, s.y[i]);
      }
  // Legend on the right, as wide as the longest name.
  double legend_w = 0;
  for (const auto& s : c.series) legend_w = std::max(legend_w, svg::text_width(s.name, 12) + 40);
  const svg::Axis y0 = svg::Axis::make(ymin, ymax, 0, 1, c.logy, false);
  double tick_w = 0;
  for (double t : y0.ticks) tick_w = std::max(tick_w, svg::text_width(svg::tick_label(t), 12));
  const double left = 30 + tick_w + 12, top = 50, bottom = c.height - 55, right = c.width - 20 - legend_w;
  const svg::Axis ax = svg::Axis::make(xmin, xmax, left, right, c.logx, false);
  const svg::Axis ay = svg::Axis::make(ymin, ymax, bottom, top, c.logy, false);

  svg::Doc d(c.width, c.height);
  d.text(c.width / 2.0, 28, c.title, 16, "middle", "font-weight=\"bold\"");
  for (double t : ax.ticks) {
    const double x = ax.map(t);
    if (x < left - 0.5 || x > right + 0.5) continue;
    d.line(x, top, x, bottom, "#e5e5e5");
    d.text(x, bottom + 18, svg::tick_label(t), 12);
  }
  for (double t : ay.ticks) {
    const double y = ay.map(t);
    if (y < top - 0.5 || y > bottom + 0.5) continue;
    d.line(left, y, right, y, "#e5e5e5");
    d.text(left - 6, y + 4, svg::tick_label(t), 12, "end");
  }
  d.line(left, bottom, right, bottom, "#333");
  d.line(left, top, left, bottom, "#333");
  d.text((left + right) / 2, c.height - 15, c.xlabel, 13);
  d.o << "<text transform=\"translate(16," << svg::num((top + bottom) / 2) << ") rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">"
      << svg::esc(c.ylabel) << "</text>\n";
  auto polyline = [&](const Series& s, const std::vector<double>& ys, size_t k, const char* style) {
    std::string pts;
    size_t n = 0;
    for (size_t i = 0; i < std::min(s.x.size(), ys.size()); ++i)
      if (usable(s.x[i], ys[i], c)) { pts += svg::num(ax.map(s.x[i])) + "," + svg::num(ay.map(ys[i])) + " "; ++n; }
    d.o << "<polyline fill=\"none\" stroke=\"" << plot_color(k) << "\" " << style << (s.dashed ? " stroke-dasharray=\"6 4\"" : "")
        << " points=\"" << pts << "\"/>\n";
    return n;
  };
  // Raw curves of smoothed series first, faint, so no smoothed or unsmoothed line hides under them.
  for (size_t k = 0; k < c.series.size(); ++k)
    if (c.series[k].smooth > 1) polyline(c.series[k], c.series[k].y, k, "stroke-width=\"1\" stroke-opacity=\"0.25\"");
  for (size_t k = 0; k < c.series.size(); ++k) {
    const Series& s = c.series[k];
    const size_t n = polyline(s, smooth_series(s.y, s.smooth), k, "stroke-width=\"2\"");
    if (n <= 40)   // few points: mark them so single values are visible
      for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
        if (usable(s.x[i], s.y[i], c))
          d.o << "<circle cx=\"" << svg::num(ax.map(s.x[i])) << "\" cy=\"" << svg::num(ay.map(s.y[i])) << "\" r=\"3\" fill=\"" << plot_color(k) << "\"/>\n";
    const double ly = top + 10 + 20.0 * static_cast<double>(k);
    d.o << "<line x1=\"" << svg::num(right + 12) << "\" y1=\"" << svg::num(ly) << "\" x2=\"" << svg::num(right + 34) << "\" y2=\""
        << svg::num(ly) << "\" stroke=\"" << plot_color(k) << "\" stroke-width=\"3\" " << (s.dashed ? "stroke-dasharray=\"6 4\"" : "") << "/>\n";
    d.text(right + 40, ly + 4, s.name, 12, "start");
  }
  if (xmin > xmax) d.text((left + right) / 2, (top + bottom) / 2, "(no data)", 14);
  svg::write_text_file(path, d.finish());
  write_csv(path, c.series);
}

std::string sparkline(const std::vector<double>& ys, int width) {
  static const char* blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  if (ys.empty() || width <= 0) return "";
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double y : ys)
    if (std::isfinite(y)) { lo = std::min(lo, y); hi = std::max(hi, y); }
  const size_t n = std::min(ys.size(), static_cast<size_t>(width));
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    // average the samples that fall into this character
    const size_t a = i * ys.size() / n, b = std::max(a + 1, (i + 1) * ys.size() / n);
    double s = 0;
    int cnt = 0;
    for (size_t j = a; j < b; ++j)
      if (std::isfinite(ys[j])) { s += ys[j]; ++cnt; }
    if (!cnt) { out += " "; continue; }
    const double t = hi > lo ? (s / cnt - lo) / (hi - lo) : 0.5;
    out += blocks[std::clamp(static_cast<int>(t * 7.999), 0, 7)];
  }
  return out;
}

std::string sparkline_summary(const std::vector<Series>& series, int width) {
  size_t w = 0;
  for (const auto& s : series) w = std::max(w, s.name.size());
  std::string out;
  char buf[64];
  for (const auto& s : series) {
    if (s.y.empty()) continue;
    std::snprintf(buf, sizeof buf, "  %8.4g -> %-8.4g  ", s.y.front(), s.y.back());
    out += "  " + s.name + std::string(w - s.name.size(), ' ') + buf + sparkline(s.y, width) + "\n";
  }
  return out;
}

}  // namespace ds
