#include <doctest/doctest.h>

#include <string>

#include "ch07/chat_template.hpp"
#include "ch07/verifiers.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
Problem addition(std::string a, std::string b, std::string reversed_sum) {
  Problem p;
  p.task = Task::addition;
  p.numbers = {a, b};
  p.answer = reversed_sum;
  p.target = std::string(reversed_sum.rbegin(), reversed_sum.rend());
  return p;
}
Problem countdown(std::vector<std::string> numbers, std::string target) {
  Problem p;
  p.task = Task::countdown;
  p.numbers = std::move(numbers);
  p.target = std::move(target);
  return p;
}
// A finished completion, as sampling returns it: the worked form, then the stop token.
std::string wrap(const std::string& answer) { return format_completion("...", answer) + "<|endoftext|>"; }
const std::string kEot = "<|endoftext|>";
}  // namespace

TEST_CASE("verifier, addition: only the exact reversed digits score") {
  const Problem p = addition("345", "78", "324");   // 345 + 78 = 423
  CHECK(addition_accuracy(p, "324") == 1.f);
  CHECK(addition_accuracy(p, " \n324\t") == 1.f);
  for (const char* bad : {"", " ", "423", "3240", "0324", "32", "3 2 4", "324.", "+324", "-324", "324 324", "324 and 1",
                          "32 4", "\xEF\xBC\x93\xEF\xBC\x92\xEF\xBC\x94",   // fullwidth digits
                          "\xC2\xA0" "324",                                   // a non-breaking space
                          "99999999999999999999999999999999999999999"}) {
    INFO("answer: " << bad);
    CHECK(addition_accuracy(p, bad) == 0.f);
  }
  const Problem zero = addition("0", "0", "0");
  CHECK(addition_accuracy(zero, "0") == 1.f);
  CHECK(addition_accuracy(zero, "00") == 0.f);
}

TEST_CASE("verifier, countdown: 1 for a hit with each number once, 0.1 for a valid miss, 0 for garbage") {
  const Problem p = countdown({"3", "5", "7"}, "26");   // 3 * 7 + 5
  CHECK(countdown_accuracy(p, "3 * 7 + 5") == 1.f);
  CHECK(countdown_accuracy(p, "5 + 7 * 3") == 1.f);
  CHECK(countdown_accuracy(p, "(7) * (3) + (5)") == 1.f);
  CHECK(countdown_accuracy(p, "  5+3*7\n") == 1.f);
  // Well formed but wrong: 0.1.
  CHECK(countdown_accuracy(p, "3 + 5 + 7") == kWellFormedWrong);      // wrong value
  CHECK(countdown_accuracy(p, "26") == kWellFormedWrong);             // the target alone
  CHECK(countdown_accuracy(p, "3 * 7 + 5 + 0") == kWellFormedWrong);  // an extra number
  CHECK(countdown_accuracy(p, "3 * 7 + 5 * 1") == kWellFormedWrong);  // an extra number
  CHECK(countdown_accuracy(p, "7 * 7 - 3 * 5 - 8") == kWellFormedWrong);
  CHECK(countdown_accuracy(p, "3 * 7 + 5 - 5 + 5") == kWellFormedWrong);   // a number used more than once
  CHECK(countdown_accuracy(p, "7 * 3 + 3 + 2") == kWellFormedWrong);       // 26, but 3 twice and 5 missing
  CHECK(countdown_accuracy(p, "21 + 5") == kWellFormedWrong);              // 26 with a number not given
  CHECK(countdown_accuracy(p, "3 * 7") == kWellFormedWrong);               // a number missing
  // Not an expression: 0.
  for (const char* bad : {"", "   ", "3 * 7 + 5 = 26", "(3 * 7 + 5", "3 * 7) + 5", "35 / 7 + 21", "26 / 1", "-3 + 29",
                          "3 x 7 + 5", "3 \xC3\x97 7 + 5", "\xEF\xBC\x93 * 7 + 5", "three times seven plus five",
                          "3 * 7 + 5; 1", "99999999999999999999 - 99999999999999999973",
                          "9223372036854775807 * 2 + 3 + 5 + 7", "3 * 7 + 5 $"}) {
    INFO("answer: " << bad);
    CHECK(countdown_accuracy(p, bad) == 0.f);
  }
  // Repeated numbers in the problem must each be used.
  const Problem twice = countdown({"2", "2", "6"}, "10");
  CHECK(countdown_accuracy(twice, "2 * 2 + 6") == 1.f);
  CHECK(countdown_accuracy(twice, "2 + 2 + 6") == 1.f);
  CHECK(countdown_accuracy(twice, "2 * 6 - 2") == 1.f);
  CHECK(countdown_accuracy(twice, "6 + 4") == kWellFormedWrong);
}

TEST_CASE("verifier: the accuracy reward reads only the one <answer> block of a completion") {
  const Problem add = addition("345", "78", "324");
  CHECK(accuracy_reward(add, wrap("324")) == 1.f);
  CHECK(accuracy_reward(add, "<answer>324</answer>" + kEot) == 1.f);   // format is scored apart
  CHECK(accuracy_reward(add, "") == 0.f);
  CHECK(accuracy_reward(add, "324") == 0.f);                                      // missing markers
  CHECK(accuracy_reward(add, "<think>324</think>") == 0.f);                       // answer outside <answer>
  CHECK(accuracy_reward(add, "<think>x</think> 324 <answer></answer>") == 0.f);
  CHECK(accuracy_reward(add, "<answer>324</answer><answer>423</answer>" + kEot) == 0.f);   // hedging with two answers
  CHECK(accuracy_reward(add, "<answer>324</answer><answer>324</answer>" + kEot) == 0.f);
  const Problem cd = countdown({"3", "5", "7"}, "26");
  CHECK(accuracy_reward(cd, wrap("3 * 7 + 5")) == 1.f);
  CHECK(accuracy_reward(cd, wrap("3 + 5 + 7")) == kWellFormedWrong);
  CHECK(accuracy_reward(cd, wrap("3 / 5")) == 0.f);
  CHECK(accuracy_reward(cd, "<think>3 * 7 + 5</think>") == 0.f);
  const Reward r = score(cd, "<answer>3 * 7 + 5</answer>" + kEot);
  CHECK(r.accuracy == 1.f);
  CHECK(r.format == 0.f);
  const Reward s = score(cd, wrap("3 * 7 + 5"));
  CHECK(s.accuracy == 1.f);
  CHECK(s.format == 1.f);
}

TEST_CASE("verifier: an answer counts only when the completion ends right after it") {
  const Problem add = addition("345", "78", "324");
  CHECK(accuracy_reward(add, wrap("324")) == 1.f);
  CHECK(accuracy_reward(add, "<answer> 324 </answer> \n" + kEot + "\n") == 1.f);   // whitespace around the stop token
  CHECK(accuracy_reward(add, "<answer> 324 </answer> 5 5" + kEot) == 0.f);          // rambling after the answer
  CHECK(accuracy_reward(add, "<answer> 324 </answer>5" + kEot) == 0.f);
  CHECK(accuracy_reward(add, "<answer> 324 </answer> <think>" + kEot) == 0.f);
  CHECK(accuracy_reward(add, format_completion("...", "324")) == 0.f);              // cut off: no end-of-text
  CHECK(accuracy_reward(add, "<answer> 324 </answer> 5 5") == 0.f);
  CHECK(ends_after_answer(wrap("324")));
  CHECK_FALSE(ends_after_answer(kEot));
  CHECK_FALSE(ends_after_answer("</answer> x" + kEot));
  // With the format reward weighted 0, the reward is the accuracy alone: rambling still earns 0.
  const Reward r = score(add, "<think>x</think> <answer> 324 </answer> 5 5" + kEot);
  CHECK(r.accuracy == 0.f);
  CHECK(r.format == 0.f);
  const Problem cd = countdown({"3", "5", "7"}, "26");
  CHECK(accuracy_reward(cd, "<answer>3 * 7 + 5</answer> 7" + kEot) == 0.f);   // not even the well-formed-miss credit
}
