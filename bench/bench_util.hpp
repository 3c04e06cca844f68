// What every benchmark shares: a warmed-up timing loop (threads are set with ds::set_threads).
#pragma once

#include <algorithm>
#include <ctime>
#include <functional>
#include <vector>

#include "common/timer.hpp"

namespace ds::bench {

// Mean seconds per call of f, calling it until `budget` seconds have passed (after one warm-up).
inline double seconds_per_call(const std::function<void()>& f, double budget) {
  f();
  Timer t;
  int n = 0;
  do {
    f();
    ++n;
  } while (t.seconds() < budget);
  return t.seconds() / n;
}

// CPU seconds of the whole process (all threads): the work done, which other programs on a
// loaded machine do not inflate as they do wall time.
inline double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace ds::bench
