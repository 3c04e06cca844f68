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

// True when the completion is finished right after its answer: nothing but ASCII whitespace
// between its last </answer> and the end-of-text token that ends it. A completion that keeps
// writing after </answer> ("<answer> 324 </answer> 5 5") or runs out of tokens is not finished.
bool ends_after_answer(std::string_view completion);

// The accuracy reward of a whole completion: the answer is read from its one <answer> block
// (chat_template.hpp), and counts only when the completion ends right after it
// (ends_after_answer); no block, two blocks, an empty block or an unfinished completion score 0.
float accuracy_reward(const Problem& p, std::string_view completion);

struct Reward {
  float accuracy = 0;
  float format = 0;
};
Reward score(const Problem& p, std::string_view completion);

}  // namespace ds::ch07
