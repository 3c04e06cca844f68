#include "ch07/tasks.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace ds::ch07 {

Task parse_task(std::string_view name) {
  if (name == "addition") return Task::addition;
  if (name == "countdown") return Task::countdown;
  throw std::invalid_argument("the task must be addition or countdown, not '" + std::string(name) + "'");
}

const char* name_of(Task t) { return t == Task::addition ? "addition" : "countdown"; }

std::string problem_key(const Problem& p) {
  std::vector<std::string> ops = p.numbers;
  // Numeric order for decimal strings without leading zeros: shorter first, then lexicographic.
  std::sort(ops.begin(), ops.end(), [](const std::string& a, const std::string& b) { return a.size() != b.size() ? a.size() < b.size() : a < b; });
  std::string key = name_of(p.task);
  key += ':';
  for (size_t i = 0; i < ops.size(); ++i) key += (i ? "," : "") + ops[i];
  return key + "->" + p.target;
}

Split split_of(const Problem& p) {
  // FNV-1a, then splitmix64's finaliser so every bit of the key reaches the low digits.
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : problem_key(p)) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h % 100 < kTestPercent ? Split::test : Split::train;
}

namespace {
// A uniform number with exactly `digits` digits (0..9 for one digit), as a decimal string.
std::string random_number(int digits, Rng& rng) {
  std::string s;
  for (int i = 0; i < digits; ++i) {
    const bool lead = i == 0 && digits > 1;
    s += static_cast<char>('0' + (lead ? 1 + rng.randint(9) : rng.randint(10)));
  }
  return s;
}
}  // namespace

Problem addition_problem(int length, Rng& rng) {
  if (length < 1 || length > kMaxAdditionLength)
    throw std::invalid_argument("addition length must be between 1 and " + std::to_string(kMaxAdditionLength) + ", not " + std::to_string(length));
  Problem p;
  p.task = Task::addition;
  p.length = length;
  std::string a = random_number(length, rng), b = random_number(1 + static_cast<int>(rng.randint(length)), rng);
  if (rng.randint(2)) std::swap(a, b);
  p.numbers = {a, b};
  // Column sums from the ones upward: the answer is written in this order.
  std::string reversed;
  int carry = 0;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const int da = i < a.size() ? a[a.size() - 1 - i] - '0' : -1, db = i < b.size() ? b[b.size() - 1 - i] - '0' : -1;
    const int s = std::max(da, 0) + std::max(db, 0) + carry;
    if (!p.reasoning.empty()) p.reasoning += ", ";
    std::string terms;
    for (const int d : {da, db}) {
      if (d < 0) continue;
      if (!terms.empty()) terms += '+';
      terms += std::to_string(d);
    }
    if (carry) terms += "+1";
    p.reasoning += terms + "=" + std::to_string(s);
    reversed += static_cast<char>('0' + s % 10);
    carry = s / 10;
  }
  if (carry) {
    reversed += '1';
    p.reasoning += ", carry 1";
  }
  p.answer = reversed;
  p.target = std::string(reversed.rbegin(), reversed.rend());
  p.question = "Add " + a + " + " + b + " and write the sum least significant digit first";
  return p;
}

Problem countdown_problem(int count, Rng& rng) {
  if (count != 3 && count != 4) throw std::invalid_argument("countdown uses 3 or 4 numbers, not " + std::to_string(count));
  for (;;) {
    struct Item {
      int64_t value;
      std::string expr;
      char top;   // the operator applied last ('n' for a bare number): decides brackets
    };
    std::vector<Item> items;
    Problem p;
    p.task = Task::countdown;
    p.length = count;
    for (int i = 0; i < count; ++i) {
      const int64_t v = 1 + rng.randint(10);
      items.push_back({v, std::to_string(v), 'n'});
      p.numbers.push_back(std::to_string(v));
    }
    // Combine two random items with a random operator until one is left; its value is the target.
    while (items.size() > 1) {
      const size_t i = static_cast<size_t>(rng.randint(static_cast<int64_t>(items.size())));
      Item x = items[i];
      items.erase(items.begin() + static_cast<std::ptrdiff_t>(i));
      const size_t j = static_cast<size_t>(rng.randint(static_cast<int64_t>(items.size())));
      Item y = items[j];
      items.erase(items.begin() + static_cast<std::ptrdiff_t>(j));
      const char op = "+-*"[rng.randint(3)];
      if (op == '-' && x.value < y.value) std::swap(x, y);   // no negative intermediate results
      const auto wrap = [](const Item& it, bool need) { return need ? "(" + it.expr + ")" : it.expr; };
      const bool sum_like_x = x.top == '+' || x.top == '-', sum_like_y = y.top == '+' || y.top == '-';
      Item z;
      z.top = op;
      z.value = op == '+' ? x.value + y.value : op == '-' ? x.value - y.value : x.value * y.value;
      z.expr = op == '*' ? wrap(x, sum_like_x) + " * " + wrap(y, sum_like_y)
                         : x.expr + (op == '+' ? " + " : " - ") + wrap(y, op == '-' && sum_like_y);
      if (!p.reasoning.empty()) p.reasoning += ", ";
      p.reasoning += std::to_string(x.value) + op + std::to_string(y.value) + "=" + std::to_string(z.value);
      items.push_back(z);
    }
    if (items[0].value < 1 || items[0].value > 100) continue;
    p.target = std::to_string(items[0].value);
    p.answer = items[0].expr;
    std::string list;
    for (size_t i = 0; i < p.numbers.size(); ++i) list += (i ? ", " : "") + p.numbers[i];
    p.question = "Make " + p.target + " from " + list + " using each number once and + - *";
    return p;
  }
}

Problem make_problem(Task task, int length, Rng& rng) {
  return task == Task::addition ? addition_problem(length, rng) : countdown_problem(length, rng);
}

Problem sample_problem(Task task, int length, Split split, Rng& rng) {
  for (;;) {
    Problem p = make_problem(task, length, rng);
    if (split_of(p) == split) return p;
  }
}

std::vector<Problem> problem_set(Task task, int length, Split split, int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<Problem> out;
  std::set<std::string> seen;
  // Enough draws to find n problems of the split when they exist; small spaces run out first.
  const int64_t draws = 200 * static_cast<int64_t>(std::max(n, 0)) + 2000;
  for (int64_t d = 0; d < draws && static_cast<int>(out.size()) < n; ++d) {
    Problem p = make_problem(task, length, rng);
    if (split_of(p) == split && seen.insert(problem_key(p)).second) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace ds::ch07
