// A progress bar for anything that takes more than a few seconds:
//   train  [########........]  120/400  loss 2.310  val 2.402  12,345 tok/s  ETA 0:42
// On a terminal it redraws one line; in a log (CI, a file) it prints a line every 10% only.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "common/timer.hpp"

namespace ds {

std::string format_duration(double seconds);   // "0:42", "1:05:09"
std::string format_count(double n);            // "12,345"

class Progress {
 public:
  // enabled = false prints nothing (tests, nested runs). out = nullptr means stderr, and
  // whether it is a terminal is asked of stderr; pass tty explicitly with a stream.
  Progress(int64_t total, std::string label, bool enabled = true, std::ostream* out = nullptr, int tty = -1);
  // `done` units finished; metrics shown as "name value"; `tokens` processed since the last update.
  void update(int64_t done, const std::vector<std::pair<std::string, double>>& metrics = {}, int64_t tokens = 0);
  void finish();
  std::string line() const;   // the current status line (what update prints)

 private:
  void emit(bool final);
  int64_t total_, done_ = 0, tokens_ = 0;
  std::string label_;
  bool enabled_, tty_, finished_ = false;
  std::ostream* out_;
  std::vector<std::pair<std::string, double>> metrics_;
  Timer timer_;
  int last_decile_ = -1;
};

}  // namespace ds
