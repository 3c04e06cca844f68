#include <doctest/doctest.h>

#include <set>
#include <string>

#include "ch07/expression.hpp"
#include "ch07/tasks.hpp"
#include "ch07/verifiers.hpp"

using namespace ds;
using namespace ds::ch07;

TEST_CASE("tasks: addition problems carry the reversed sum, its column sums and the operand length") {
  Rng rng(1);
  for (int len = 1; len <= 12; ++len)
    for (int k = 0; k < 20; ++k) {
      const Problem p = addition_problem(len, rng);
      REQUIRE(p.numbers.size() == 2);
      CHECK(static_cast<int>(std::max(p.numbers[0].size(), p.numbers[1].size())) == len);
      CHECK(p.length == len);
      CHECK(std::string(p.answer.rbegin(), p.answer.rend()) == p.target);
      if (len <= 9) CHECK(std::stoll(p.target) == std::stoll(p.numbers[0]) + std::stoll(p.numbers[1]));
      for (const auto& n : p.numbers) CHECK((n.size() == 1 || n[0] != '0'));
      CHECK(addition_accuracy(p, p.answer) == 1.f);
    }
}

TEST_CASE("tasks: long sums are exact and the question names the operands") {
  // 30-digit sums (beyond 64 bits) checked digit by digit against a schoolbook sum.
  Rng rng(7);
  for (int k = 0; k < 50; ++k) {
    const Problem p = addition_problem(30, rng);
    const std::string& a = p.numbers[0];
    const std::string& b = p.numbers[1];
    std::string rev;
    int carry = 0;
    for (size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
      int s = carry;
      if (i < a.size()) s += a[a.size() - 1 - i] - '0';
      if (i < b.size()) s += b[b.size() - 1 - i] - '0';
      rev += static_cast<char>('0' + s % 10);
      carry = s / 10;
    }
    CHECK(p.answer == rev);
  }
  Rng r(3);
  const Problem q = addition_problem(2, r);
  CHECK(q.question == "Add " + q.numbers[0] + " + " + q.numbers[1] + " and write the sum least significant digit first");
}

TEST_CASE("tasks: countdown problems are solvable with + - * using each number once") {
  Rng rng(2);
  for (int count : {3, 4})
    for (int k = 0; k < 200; ++k) {
      const Problem p = countdown_problem(count, rng);
      CHECK(p.numbers.size() == static_cast<size_t>(count));
      for (const auto& n : p.numbers) CHECK((std::stoi(n) >= 1 && std::stoi(n) <= 10));
      CHECK((std::stoi(p.target) >= 1 && std::stoi(p.target) <= 100));
      const auto e = evaluate_expression(p.answer);
      REQUIRE(e.has_value());
      CHECK(std::to_string(e->value) == p.target);
      CHECK(countdown_accuracy(p, p.answer) == 1.f);
    }
  CHECK_THROWS_WITH_AS(countdown_problem(5, rng), "countdown uses 3 or 4 numbers, not 5", std::invalid_argument);
  CHECK_THROWS_WITH_AS(addition_problem(0, rng), "addition length must be between 1 and 30, not 0", std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_task("sorting"), "the task must be addition or countdown, not 'sorting'", std::invalid_argument);
}

TEST_CASE("tasks: generators are deterministic in the seed") {
  for (Task t : {Task::addition, Task::countdown}) {
    const int len = t == Task::addition ? 5 : 4;
    const auto a = problem_set(t, len, Split::train, 30, 11), b = problem_set(t, len, Split::train, 30, 11);
    const auto c = problem_set(t, len, Split::train, 30, 12);
    REQUIRE(a.size() == 30);
    bool same = true, differs = false;
    for (size_t i = 0; i < a.size(); ++i) {
      same = same && a[i].question == b[i].question;
      differs = differs || a[i].question != c[i].question;
    }
    CHECK(same);
    CHECK(differs);
  }
}

TEST_CASE("tasks: train and test never share a problem, whatever the seeds, and the test share is about 10%") {
  for (Task t : {Task::addition, Task::countdown}) {
    const int len = t == Task::addition ? 2 : 3;   // small spaces, where overlap would show
    std::set<std::string> test_keys;
    for (uint64_t seed = 0; seed < 4; ++seed)
      for (const Problem& p : problem_set(t, len, Split::test, 400, seed)) {
        CHECK(split_of(p) == Split::test);
        test_keys.insert(problem_key(p));
      }
    REQUIRE(!test_keys.empty());
    Rng rng(99);
    for (int k = 0; k < 3000; ++k) {
      const Problem p = sample_problem(t, len, Split::train, rng);
      CHECK(test_keys.count(problem_key(p)) == 0);
    }
    // The commuted problem is the same problem: same key, same split.
    Problem p = make_problem(t, len, rng), q = p;
    std::swap(q.numbers.front(), q.numbers.back());
    CHECK(problem_key(p) == problem_key(q));
  }
  Rng rng(5);
  int test = 0;
  for (int k = 0; k < 20000; ++k) test += split_of(addition_problem(8, rng)) == Split::test;
  CHECK(test > 1800);
  CHECK(test < 2200);
  // One-digit sums: 55 distinct problems. problem_set finds every one in the test share and no more.
  std::set<std::string> all_test;
  for (int a = 0; a < 10; ++a)
    for (int b = 0; b < 10; ++b) {
      Problem p;
      p.numbers = {std::to_string(a), std::to_string(b)};
      p.target = std::to_string(a + b);
      if (split_of(p) == Split::test) all_test.insert(problem_key(p));
    }
  const auto small = problem_set(Task::addition, 1, Split::test, 100, 1);
  CHECK(small.size() == all_test.size());
  CHECK(small.size() == 11);
}

TEST_CASE("tasks: the worked reasoning of two hand-checked sums") {
  const auto find = [](int len, const std::string& a, const std::string& b) {
    Rng rng(4);
    for (int k = 0; k < 200000; ++k) {
      Problem p = addition_problem(len, rng);
      if (p.numbers == std::vector<std::string>{a, b}) return p;
    }
    FAIL("not drawn");
    return Problem{};
  };
  const Problem p = find(1, "7", "5");
  CHECK(p.reasoning == "7+5=12, carry 1");
  CHECK(p.answer == "21");
  CHECK(p.target == "12");
  const Problem q = find(2, "98", "7");
  CHECK(q.reasoning == "8+7=15, 9+1=10, carry 1");
  CHECK(q.answer == "501");
  CHECK(q.target == "105");
}
