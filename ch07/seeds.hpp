// Results over seeds. One RL run from one SFT start is one draw: GRPO's gain from the default
// start was +20.0 points and +6.8 from another start trained the same way. So the comparison
// programs take `--seeds N`: N SFT starts (ch07_sft's recipe with seeds seed..seed+N-1), one RL
// or distillation run from each (its own seed too), and every figure as mean and spread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ch07/task_model.hpp"

namespace ds::ch07 {

struct Spread {
  double mean = 0, sd = 0, min = 0, max = 0;   // sd: the sample standard deviation (0 for one value)
  size_t n = 0;
};
Spread spread_of(const std::vector<double>& xs);
// "24.1 ± 3.2 (20.0 to 27.5)" with each number printed by `number` (e.g. "%.1f", "%+.1f"); one value prints alone.
std::string spread_text(const Spread& s, const char* number = "%.1f");

// The SFT starts of a `--seeds n` run. n = 1: the checkpoint of from.sft_dir (--sft), as ch07_sft wrote
// it. n > 1: n starts trained here with ch07_sft's default recipe (sft_start.hpp) on from's task
// and lengths, with seeds seed, seed + 1, ... (the first is the default ch07_sft run's when
// seed is its default), saved to out/start-K/sft (K = 1..n) and returned as folders.
// With quick, the starts are --quick's (sft_start.hpp's make_quick).
std::vector<std::string> sft_start_dirs(const FromSftFlags& from, int n, uint64_t seed, const std::string& out, bool quick,
                                        const std::function<bool()>& stop = {});

}  // namespace ds::ch07
