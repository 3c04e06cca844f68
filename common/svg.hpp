// The few SVG and axis helpers the plot files share (not part of the public API).
#pragma once

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace ds::svg {

std::string esc(const std::string& s);              // XML-escape text
std::string num(double v);                          // compact number for coordinates
std::string tick_label(double v);                   // short: "0.5", "250", "1e6", "5e-4"

struct Doc {
  std::ostringstream o;
  Doc(int w, int h);
  void text(double x, double y, const std::string& s, int size = 12, const char* anchor = "middle",
            const char* extra = "");
  void line(double x1, double y1, double x2, double y2, const char* stroke = "#000", double width = 1,
            const char* extra = "");
  void rect(double x, double y, double w, double h, const std::string& fill, const char* extra = "");
  std::string finish();
};

// Linear or log10 axis mapping data values to pixels, with "nice" ticks.
struct Axis {
  double lo = 0, hi = 1;            // data range (after nicening)
  double p0 = 0, p1 = 1;            // pixel range
  bool log = false;
  std::vector<double> ticks;
  static Axis make(double dmin, double dmax, double p0, double p1, bool log, bool include_zero);
  double map(double v) const;
};

double text_width(const std::string& s, int size);  // estimate for layout
void write_text_file(const std::string& path, const std::string& content);
std::string csv_path(const std::string& svg_path);

}  // namespace ds::svg
