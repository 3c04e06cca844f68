// Grouped bar charts.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/plot.hpp"
#include "common/svg.hpp"

namespace ds {

void write_bar_chart(const std::string& path, const BarChart& c) {
  const size_t nc = c.categories.size(), ns = c.series.size();
  double ymin = std::numeric_limits<double>::infinity(), ymax = -ymin;
  for (const auto& s : c.series)
    for (double v : s.y)
      if (std::isfinite(v) && (!c.logy || v > 0)) { ymin = std::min(ymin, v); ymax = std::max(ymax, v); }
  double legend_w = 0;
  if (ns > 1)
    for (const auto& s : c.series) legend_w = std::max(legend_w, svg::text_width(s.name, 12) + 40);
  const svg::Axis y0 = svg::Axis::make(ymin, ymax, 0, 1, c.logy, !c.logy);
  double tick_w = 0;
  for (double t : y0.ticks) tick_w = std::max(tick_w, svg::text_width(svg::tick_label(t), 12));
  double label_w = 0;
  for (const auto& cat : c.categories) label_w = std::max(label_w, svg::text_width(cat, 12));
  const double left = 30 + tick_w + 12, top = 50, right = c.width - 20 - legend_w;
  const double slot = nc ? (right - left) / static_cast<double>(nc) : 1;
  const bool rotate = label_w > slot - 6;   // long labels are slanted so they do not collide
  const double bottom = c.height - 45 - (rotate ? std::min(label_w * 0.7, 140.0) : 0);
  const svg::Axis ay = svg::Axis::make(ymin, ymax, bottom, top, c.logy, !c.logy);

  svg::Doc d(c.width, c.height);
  d.text(c.width / 2.0, 28, c.title, 16, "middle", "font-weight=\"bold\"");
  for (double t : ay.ticks) {
    const double y = ay.map(t);
    d.line(left, y, right, y, "#e5e5e5");
    d.text(left - 6, y + 4, svg::tick_label(t), 12, "end");
  }
  const double base = c.logy ? bottom : ay.map(0.0), bar_w = slot * 0.8 / static_cast<double>(std::max<size_t>(ns, 1));
  for (size_t ci = 0; ci < nc; ++ci) {
    const double x0 = left + slot * static_cast<double>(ci) + slot * 0.1;
    for (size_t si = 0; si < ns; ++si) {
      if (ci >= c.series[si].y.size()) continue;
      const double v = c.series[si].y[ci];
      if (!std::isfinite(v) || (c.logy && v <= 0)) continue;
      const double y = ay.map(v), x = x0 + bar_w * static_cast<double>(si);
      d.rect(x, std::min(y, base), bar_w - 2, std::abs(base - y), plot_color(si));
      if (c.value_labels && bar_w > 18) d.text(x + (bar_w - 2) / 2, std::min(y, base) - 4, svg::tick_label(std::round(v * 1000) / 1000), 10);
    }
    const double lx = left + slot * (static_cast<double>(ci) + 0.5);
    if (rotate)
      d.o << "<text transform=\"translate(" << svg::num(lx) << "," << svg::num(bottom + 14) << ") rotate(-35)\" font-size=\"12\" text-anchor=\"end\">"
          << svg::esc(c.categories[ci]) << "</text>\n";
    else
      d.text(lx, bottom + 18, c.categories[ci], 12);
  }
  d.line(left, bottom, right, bottom, "#333");
  d.line(left, top, left, bottom, "#333");
  d.text((left + right) / 2, c.height - 12, c.xlabel, 13);
  d.o << "<text transform=\"translate(16," << svg::num((top + bottom) / 2) << ") rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">"
      << svg::esc(c.ylabel) << "</text>\n";
  if (ns > 1)
    for (size_t si = 0; si < ns; ++si) {
      const double ly = top + 10 + 20.0 * static_cast<double>(si);
      d.rect(right + 12, ly - 6, 22, 12, plot_color(si));
      d.text(right + 40, ly + 4, c.series[si].name, 12, "start");
    }
  svg::write_text_file(path, d.finish());

  std::ostringstream o;
  o << "category";
  for (const auto& s : c.series) o << ",\"" << s.name << '"';
  o << '\n';
  for (size_t ci = 0; ci < nc; ++ci) {
    o << '"' << c.categories[ci] << '"';
    for (const auto& s : c.series) o << ',' << (ci < s.y.size() ? s.y[ci] : std::nan(""));
    o << '\n';
  }
  svg::write_text_file(svg::csv_path(path), o.str());
}

}  // namespace ds
