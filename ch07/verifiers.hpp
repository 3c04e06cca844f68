// Rule-based rewards, as DeepSeek-R1-Zero's (R1 paper sec. 2.2.2): a program decides whether the
// answer is right, so the reward cannot be flattered the way a learned reward model can. The
// rules are strict on purpose: anything a policy could exploit (two answers, an answer outside
// the <answer> block, a Unicode look-alike digit, an overflowing number) earns nothing.
#pragma once

#include <string_view>

#include "ch07/tasks.hpp"

namespace ds::ch07 {

inline constexpr float kWellFormedWrong = 0.1f;   // countdown: a valid expression that misses

// Addition: 1 when `answer` (ASCII whitespace around it ignored) is exactly the reversed sum's
// ASCII digits, else 0. "0324", "3 2 4", "324." and "423" all score 0.
float addition_accuracy(const Problem& p, std::string_view answer);

// Countdown: 1 when `answer` is an expression (expression.hpp) whose value is the target and
// whose literals are the problem's numbers, each used exactly once; kWellFormedWrong when it is
// an expression that does not; 0 when it is not an expression (or overflows 64 bits).
float countdown_accuracy(const Problem& p, std::string_view answer);

// The accuracy reward of a whole completion: the answer is read from its one <answer> block
// (chat_template.hpp); no block, two blocks or an empty block score 0.
float accuracy_reward(const Problem& p, std::string_view completion);

struct Reward {
  float accuracy = 0;
  float format = 0;
};
Reward score(const Problem& p, std::string_view completion);

}  // namespace ds::ch07
