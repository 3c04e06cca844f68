// What every benchmark shares: a warmed-up timing loop (threads are set with ds::set_threads).
#pragma once

#include <functional>

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

}  // namespace ds::bench
