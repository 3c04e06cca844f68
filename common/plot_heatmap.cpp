// Heatmaps: attention weights, positional encodings, expert load over training steps.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "common/plot.hpp"
#include "common/svg.hpp"

namespace ds {

namespace {
// Viridis (perceptually uniform, colour-blind safe), or blue-white-red for signed data.
std::string colour(double t, bool diverging) {
  static const double vir[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  static const double div[3][3] = {{33, 102, 172}, {247, 247, 247}, {178, 24, 43}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
  const int n = diverging ? 3 : 5;
  const double f = t * (n - 1);
  const int i = std::min(static_cast<int>(f), n - 2);
  const double u = f - i;
  const double (*s)[3] = diverging ? div : vir;
  char b[16];
  std::snprintf(b, sizeof b, "#%02x%02x%02x", static_cast<int>(s[i][0] + u * (s[i + 1][0] - s[i][0])),
                static_cast<int>(s[i][1] + u * (s[i + 1][1] - s[i][1])), static_cast<int>(s[i][2] + u * (s[i + 1][2] - s[i][2])));
  return b;
}
}  // namespace

void write_heatmap(const std::string& path, const Heatmap& h) {
  if (h.rows <= 0 || h.cols <= 0 || static_cast<int64_t>(h.values.size()) != h.rows * h.cols)
    throw std::invalid_argument("write_heatmap: values must hold rows x cols numbers");
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : h.values)
    if (std::isfinite(v)) { lo = std::min(lo, v); hi = std::max(hi, v); }
  if (h.diverging) { hi = std::max(std::abs(lo), std::abs(hi)); lo = -hi; }
  if (!(hi > lo)) { hi = lo + 1; }
  double rl_w = 0, cl_w = 0;
  for (const auto& s : h.row_labels) rl_w = std::max(rl_w, svg::text_width(s, 11));
  for (const auto& s : h.col_labels) cl_w = std::max(cl_w, svg::text_width(s, 11));
  const double left = 40 + std::max(rl_w, 24.0), top = 50, right = h.width - 90;
  const double cw = (right - left) / static_cast<double>(h.cols);
  const bool rotate = cl_w > cw - 2;
  const double bottom = h.height - 50 - (rotate ? std::min(cl_w * 0.75, 120.0) : 0);
  const double ch = (bottom - top) / static_cast<double>(h.rows);

  svg::Doc d(h.width, h.height);
  d.text(h.width / 2.0, 28, h.title, 16, "middle", "font-weight=\"bold\"");
  for (int64_t r = 0; r < h.rows; ++r)
    for (int64_t c = 0; c < h.cols; ++c) {
      const double v = h.values[static_cast<size_t>(r * h.cols + c)];
      const double t = (v - lo) / (hi - lo);
      d.rect(left + cw * static_cast<double>(c), top + ch * static_cast<double>(r), cw + 0.3, ch + 0.3, colour(t, h.diverging));
      if (h.annotate && cw >= 34 && ch >= 16 && (h.annotate_zeros || v != 0))
        d.text(left + cw * (static_cast<double>(c) + 0.5), top + ch * (static_cast<double>(r) + 0.5) + 4, svg::tick_label(std::round(v * 100) / 100),
               11, "middle", (t > 0.6 && !h.diverging) ? "fill=\"#000\"" : (h.diverging ? "fill=\"#000\"" : "fill=\"#fff\""));
    }
  // Labels: every one when there is room, otherwise evenly thinned (or the index when unlabeled).
  const int64_t rstep = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(14.0 / ch)));
  for (int64_t r = 0; r < h.rows; r += rstep) {
    const std::string s = r < static_cast<int64_t>(h.row_labels.size()) ? h.row_labels[static_cast<size_t>(r)] : std::to_string(r);
    d.text(left - 5, top + ch * (static_cast<double>(r) + 0.5) + 4, s, 11, "end");
  }
  // Unrotated column labels need their own width of room: thin them until they fit.
  const double col_text_w = h.col_labels.empty() ? svg::text_width(std::to_string(h.cols - 1), 11) : 11.0;
  const int64_t cstep = std::max<int64_t>(1, static_cast<int64_t>(std::ceil((col_text_w + 6) / cw)));
  for (int64_t c = 0; c < h.cols; c += cstep) {
    const std::string s = c < static_cast<int64_t>(h.col_labels.size()) ? h.col_labels[static_cast<size_t>(c)] : std::to_string(c);
    const double x = left + cw * (static_cast<double>(c) + 0.5);
    if (rotate && !h.col_labels.empty())
      d.o << "<text transform=\"translate(" << svg::num(x + 3) << "," << svg::num(bottom + 12) << ") rotate(-40)\" font-size=\"11\" text-anchor=\"end\">"
          << svg::esc(s) << "</text>\n";
    else
      d.text(x, bottom + 15, s, 11);
  }
  d.text((left + right) / 2, h.height - 12, h.xlabel, 13);
  d.o << "<text transform=\"translate(16," << svg::num((top + bottom) / 2) << ") rotate(-90)\" font-size=\"13\" text-anchor=\"middle\">"
      << svg::esc(h.ylabel) << "</text>\n";
  // Colour bar with its range.
  const double bx = right + 20, bw = 16;
  for (int i = 0; i < 50; ++i)
    d.rect(bx, top + (bottom - top) * i / 50.0, bw, (bottom - top) / 50.0 + 0.5, colour(1.0 - i / 49.0, h.diverging));
  auto label = [](double v) {   // three significant digits: the bar's ends are data extremes, not round ticks
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", v);
    return svg::tick_label(std::strtod(b, nullptr));
  };
  d.text(bx + bw + 4, top + 8, label(hi), 11, "start");
  d.text(bx + bw + 4, (top + bottom) / 2 + 4, label((lo + hi) / 2), 11, "start");
  d.text(bx + bw + 4, bottom, label(lo), 11, "start");
  svg::write_text_file(path, d.finish());

  std::ostringstream o;
  o << "row";
  for (int64_t c = 0; c < h.cols; ++c)
    o << ',' << (c < static_cast<int64_t>(h.col_labels.size()) ? "\"" + h.col_labels[static_cast<size_t>(c)] + "\"" : std::to_string(c));
  o << '\n';
  for (int64_t r = 0; r < h.rows; ++r) {
    o << (r < static_cast<int64_t>(h.row_labels.size()) ? "\"" + h.row_labels[static_cast<size_t>(r)] + "\"" : std::to_string(r));
    for (int64_t c = 0; c < h.cols; ++c) o << ',' << h.values[static_cast<size_t>(r * h.cols + c)];
    o << '\n';
  }
  svg::write_text_file(svg::csv_path(path), o.str());
}

}  // namespace ds
