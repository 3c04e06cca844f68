#include "common/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace ds {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = std::lround(s), h = t / 3600, m = (t / 60) % 60, sec = t % 60;
  char buf[32];
  if (h) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", h, m, sec);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", m, sec);
  return buf;
}

std::string format_count(double n) {
  std::string digits = std::to_string(std::llround(n)), out;
  const size_t start = digits[0] == '-' ? 1 : 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

Progress::Progress(int64_t total, std::string label, bool enabled, std::ostream* out, int tty)
    : total_(total), label_(std::move(label)), enabled_(enabled), out_(out ? out : &std::cerr) {
  tty_ = tty >= 0 ? tty != 0 : (out == nullptr && isatty(STDERR_FILENO));
}

std::string Progress::line() const {
  const double frac = total_ > 0 ? std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_)) : 1.0;
  const int width = 20, filled = static_cast<int>(frac * width);
  std::string s = label_ + "  [" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '.') +
                  "]  " + std::to_string(done_) + "/" + std::to_string(total_);
  char buf[64];
  for (const auto& [name, v] : metrics_) {
    const bool count = v == std::floor(v) && std::abs(v) >= 10 && std::abs(v) < 1e15;   // a step or sample count, not "369.000"
    std::snprintf(buf, sizeof buf, count ? "  %s %.0f" : (std::abs(v) < 1e-2 && v != 0) ? "  %s %.1e" : "  %s %.3f", name.c_str(), v);
    s += buf;
  }
  const double el = timer_.seconds();
  if (tokens_ > 0 && el > 0) s += "  " + format_count(static_cast<double>(tokens_) / el) + " tok/s";
  if (finished_) s += "  done in " + format_duration(el);
  else if (done_ > 0) s += "  ETA " + format_duration(el / static_cast<double>(done_) * static_cast<double>(total_ - done_));
  return s;
}

void Progress::emit(bool final) {
  if (!enabled_) return;
  if (tty_) *out_ << "\r\033[K" << line() << (final ? "\n" : "") << std::flush;
  else *out_ << line() << "\n" << std::flush;
}

void Progress::update(int64_t done, const std::vector<std::pair<std::string, double>>& metrics, int64_t tokens) {
  done_ = done;
  tokens_ += tokens;
  if (!metrics.empty()) metrics_ = metrics;
  const int decile = total_ > 0 ? static_cast<int>(10 * done_ / total_) : 10;
  if (tty_ || decile > last_decile_) {
    last_decile_ = decile;
    if (done_ < total_ || tty_) emit(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  emit(true);
}

}  // namespace ds
