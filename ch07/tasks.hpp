// The two tasks of this chapter. Both have answers a program checks exactly (verifiers.hpp), so
// every reward is exact and every accuracy is measured, not judged.
//
// (A) addition: "Add 345 + 78 ..." -> the sum with its least significant digit first: "324".
//     Reversed, the model writes each digit after the digits it depends on (the carry flows from
//     the ones upward), so a left-to-right model can add column by column, the way a person
//     does. The problem's length is the number of digits of the longer operand; the other has
//     1..length digits. Held-out test sets are kept per length, so accuracy on lengths never
//     trained on measures generalisation.
// (B) countdown: 3 or 4 numbers from 1..10 and a target in 1..100 that + - * reach using each
//     number exactly once (made by combining the numbers, so a solution exists). The answer is
//     an expression; reward 1 if it hits the target using each number exactly once, 0.1 if it
//     is a well-formed expression that does not, 0 otherwise.
//
// Train / test split: a problem belongs to the test set when a fixed hash of its identity (the
// operands in sorted order, and the target) falls in the test share. The split does not depend
// on any seed, so no seed, length or sampling order can put a test problem into training.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/rng.hpp"

namespace ds::ch07 {

enum class Task { addition, countdown };
enum class Split { train, test };

Task parse_task(std::string_view name);   // "addition" / "countdown"; else one sentence
const char* name_of(Task t);

inline constexpr int kMaxAdditionLength = 30;
inline constexpr int kTestPercent = 10;   // share of all problems held out for testing

struct Problem {
  Task task = Task::addition;
  std::vector<std::string> numbers;   // the operands in decimal: two addends / the 3-4 countdown numbers
  std::string target;                 // addition: the sum (most significant digit first); countdown: the number to make
  int length = 0;                     // addition: digits of the longer addend; countdown: how many numbers
  std::string question;               // the user turn
  std::string answer;                 // a correct answer: the reversed sum / an expression that makes the target
  std::string reasoning;              // a worked solution for <think>: the column sums / the steps, in order
};

// The identity the split hashes: the sorted operands and the target ("3,5,7->26").
std::string problem_key(const Problem& p);
Split split_of(const Problem& p);

// One problem of the given length (addition: 1..kMaxAdditionLength digits; countdown: 3 or 4
// numbers), from either split.
Problem addition_problem(int length, Rng& rng);
Problem countdown_problem(int count, Rng& rng);
Problem make_problem(Task task, int length, Rng& rng);

// Draws until a problem of `split` comes up (about 1 in 10 draws for test).
Problem sample_problem(Task task, int length, Split split, Rng& rng);

// Up to n distinct problems of the split and length, the same for the same seed. Fewer when the
// split holds fewer (one-digit sums are 55 distinct problems, 11 of them in test).
std::vector<Problem> problem_set(Task task, int length, Split split, int n, uint64_t seed);

}  // namespace ds::ch07
