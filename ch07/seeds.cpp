#include "ch07/seeds.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ch07/sft_start.hpp"
#include <stdexcept>

#include "common/run.hpp"

namespace ds::ch07 {

Spread spread_of(const std::vector<double>& xs) {
  Spread s;
  s.n = xs.size();
  if (xs.empty()) return s;
  for (double x : xs) s.mean += x / static_cast<double>(xs.size());
  double ss = 0;
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  s.sd = xs.size() > 1 ? std::sqrt(ss / static_cast<double>(xs.size() - 1)) : 0.0;
  s.min = *std::min_element(xs.begin(), xs.end());
  s.max = *std::max_element(xs.begin(), xs.end());
  return s;
}

std::string spread_text(const Spread& s, const char* number) {
  const std::string m = fmt(number, s.mean);
  if (s.n < 2) return m;
  return m + " ± " + fmt("%.1f", s.sd) + " (" + fmt(number, s.min) + " to " + fmt(number, s.max) + ")";
}

std::vector<std::string> sft_start_dirs(const FromSftFlags& from, int n, uint64_t seed, const std::string& out, bool quick,
                                        const std::function<bool()>& stop) {
  if (n < 1) throw std::invalid_argument("--seeds must be at least 1");
  if (n == 1) return {from.sft_dir};
  SftStartConfig c;
  c.task = from.task;
  c.long_lengths = from.lengths;
  if (from.task == Task::countdown) c.short_lengths = {3};
  c.progress = false;
  if (quick) make_quick(c);
  std::vector<std::string> dirs;
  for (int k = 0; k < n; ++k) {
    const std::string dir = out + "/start-" + std::to_string(k + 1) + "/sft";
    std::printf("SFT start %d of %d (ch07_sft's recipe, --seed %llu) ...\n", k + 1, n, (unsigned long long)(seed + static_cast<uint64_t>(k)));
    const SftStart s = train_sft_start(c, seed + static_cast<uint64_t>(k), stop);
    std::printf("  kept step %lld, best validation probe %.1f%% of %zu problems\n", (long long)s.kept_step, s.best_validation, s.validation_problems);
    save_sft_start(dir, s);
    dirs.push_back(dir);
  }
  return dirs;
}

}  // namespace ds::ch07
