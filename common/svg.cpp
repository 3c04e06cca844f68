#include "common/svg.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "common/fsutil.hpp"
#include "common/utf8.hpp"

namespace ds::svg {

std::string esc(const std::string& text) {
  const std::string s = valid_utf8(text);   // an SVG is XML, which must be UTF-8
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  char b[32];
  if (a >= 1e6 || a < 1e-3) {
    // One mantissa digit and a bare exponent: "1e6", "5e-4" (printf's "%.0e" says "1e+06").
    int e = static_cast<int>(std::floor(std::log10(a)));
    double m = v / std::pow(10.0, e);
    if (std::abs(std::round(m)) >= 10) { m /= 10; ++e; }
    std::snprintf(b, sizeof b, "%.0fe%d", m, e);
    return b;
  }
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

Doc::Doc(int w, int h) {
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << ' ' << h
    << "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

void Doc::text(double x, double y, const std::string& s, int size, const char* anchor, const char* extra) {
  o << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" font-size=\"" << size << "\" text-anchor=\"" << anchor << "\" " << extra
    << ">" << esc(s) << "</text>\n";
}

void Doc::line(double x1, double y1, double x2, double y2, const char* stroke, double width, const char* extra) {
  o << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\"" << num(y2) << "\" stroke=\"" << stroke
    << "\" stroke-width=\"" << width << "\" " << extra << "/>\n";
}

void Doc::rect(double x, double y, double w, double h, const std::string& fill, const char* extra) {
  o << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(std::max(w, 0.0)) << "\" height=\""
    << num(std::max(h, 0.0)) << "\" fill=\"" << fill << "\" " << extra << "/>\n";
}

std::string Doc::finish() { return o.str() + "</svg>\n"; }

namespace {
double nice_step(double range, int target) {
  const double raw = range / target, mag = std::pow(10.0, std::floor(std::log10(raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}
}  // namespace

Axis Axis::make(double dmin, double dmax, double p0, double p1, bool log, bool include_zero) {
  Axis a;
  a.p0 = p0;
  a.p1 = p1;
  a.log = log;
  if (!std::isfinite(dmin) || !std::isfinite(dmax)) { dmin = 0; dmax = 1; }
  if (log) {
    dmin = std::max(dmin, 1e-300);
    dmax = std::max(dmax, dmin);
    double lo = std::floor(std::log10(dmin)), hi = std::ceil(std::log10(dmax));
    if (hi <= lo) hi = lo + 1;
    const int decades = static_cast<int>(hi - lo);
    const int stride = std::max(1, decades / 8);
    std::vector<double> ticks;
    for (double e = lo; e <= hi + 1e-9; e += stride) ticks.push_back(std::pow(10.0, e));
    if (decades <= 2)   // few decades: add 2x and 5x ticks so the axis is readable
      for (double e = lo; e < hi; ++e)
        for (double m : {2.0, 5.0}) ticks.push_back(m * std::pow(10.0, e));
    std::sort(ticks.begin(), ticks.end());
    // The axis ends at the ticks around the data, not at whole decades: data ending at k = 16
    // is drawn up to 20, not across an empty stretch to 100.
    const double tol = 1 + 1e-9;
    double top = ticks.back(), bottom = ticks.front();
    for (double t : ticks) if (t * tol >= dmax) { top = t; break; }
    for (auto it = ticks.rbegin(); it != ticks.rend(); ++it) if (*it <= dmin * tol) { bottom = *it; break; }
    if (top <= bottom) top = ticks.back();
    for (double t : ticks) if (t >= bottom / tol && t <= top * tol) a.ticks.push_back(t);
    a.lo = std::log10(bottom);
    a.hi = std::log10(top);
    return a;
  }
  if (include_zero) { dmin = std::min(dmin, 0.0); dmax = std::max(dmax, 0.0); }
  if (dmax - dmin < 1e-12 * std::max(1.0, std::abs(dmax))) { dmin -= 0.5 * std::max(1.0, std::abs(dmin)); dmax += 0.5 * std::max(1.0, std::abs(dmax)); }
  const double step = nice_step(dmax - dmin, 6);
  a.lo = std::floor(dmin / step) * step;
  a.hi = std::ceil(dmax / step) * step;
  for (double t = a.lo; t <= a.hi + step * 1e-6; t += step) a.ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return a;
}

double Axis::map(double v) const {
  const double t = log ? (std::log10(std::max(v, 1e-300)) - lo) / (hi - lo) : (v - lo) / (hi - lo);
  return p0 + t * (p1 - p0);
}

double text_width(const std::string& s, int size) {
  size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;   // count UTF-8 code points
  return 0.6 * size * static_cast<double>(chars);
}

void write_text_file(const std::string& path, const std::string& content) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  write_file_atomic(path, std::string_view(content));
}

std::string csv_path(const std::string& svg_path) {
  const auto p = std::filesystem::path(svg_path);
  return (p.parent_path() / p.stem()).string() + ".csv";
}

}  // namespace ds::svg
