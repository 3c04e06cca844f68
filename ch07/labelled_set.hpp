// The labelled data of the SFT stage, kept finite. RL with verifiable rewards earns its place
// where worked solutions are scarce and prompts with a verifier are plentiful (R1 sec. 2.2: the
// rule-based reward needs the answer checked, never the reasoning written). So ch07_sft's
// stage 2 sees a fixed set of labelled long-operand problems (with their worked solutions), the
// SFT-only control of ch07_grpo and ch07_compare continues on that same set (more epochs at equal
// compute), and RL draws fresh prompts that only the verifier grades.
//
// The set is a spec, not a file of problems: problem_set (tasks.hpp) is deterministic, so task,
// lengths, size and seed name the problems. ch07_sft writes the spec as labelled_set.json into
// its checkpoint folder, so every program starting from it trains its control on the same data.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "ch07/tasks.hpp"

namespace ds::ch07 {

struct LabelledSet {
  Task task = Task::addition;
  std::vector<int> short_lengths{1};   // mastered in stage 1: drawn fresh from the training split
  std::vector<int> long_lengths{2};    // the scarce lengths: only `long_examples` problems per length
  int long_examples = 512;             // labelled problems per long length
  uint64_t seed = 4242;

  // The fixed labelled problems of the long lengths: long_examples per length (fewer when the
  // training split holds fewer), distinct, from the training split.
  std::vector<Problem> long_problems() const;
  // n problems for an SFT batch: each takes a length uniformly from short + long lengths; a
  // short one is a fresh training problem, a long one a uniform draw from long_problems().
  std::vector<Problem> draw(const std::vector<Problem>& pool, int n, Rng& rng) const;

  std::string to_json() const;
  static LabelledSet from_json(const std::string& text, const std::string& where);
  // dir/labelled_set.json; a folder without one is one sentence (the checkpoint predates it).
  void save(const std::string& dir) const;
  static LabelledSet load(const std::string& dir);
};

// Validation problems of `lengths` from the training split that are not in `exclude` (by
// problem_key): choices made on them never look at the test set, nor at the data trained on.
std::vector<Problem> validation_set(Task task, const std::vector<int>& lengths, int n, const std::vector<Problem>& exclude, uint64_t seed = 1001);

// The RL programs' validation set, per length: validation_set with this size and seed (not the
// SFT stop's 1001, so it is drawn apart from the problems that chose the SFT checkpoint). RL
// settings are chosen on it, and RL prompts never include it (RlRunConfig::exclude).
inline constexpr int kRlValidationProblems = 400;
inline constexpr uint64_t kRlValidationSeed = 2002;

}  // namespace ds::ch07
