#include "ch07/verifiers.hpp"

#include <algorithm>
#include <vector>

#include "ch07/chat_template.hpp"
#include "ch07/expression.hpp"

namespace ds::ch07 {

float addition_accuracy(const Problem& p, std::string_view answer) {
  const std::string_view a = trim_ascii(answer);
  const bool digits = !a.empty() && std::all_of(a.begin(), a.end(), [](char c) { return c >= '0' && c <= '9'; });
  return digits && a == p.answer ? 1.f : 0.f;
}

float countdown_accuracy(const Problem& p, std::string_view answer) {
  const auto e = evaluate_expression(answer);
  if (!e) return 0.f;
  std::vector<int64_t> used = e->literals, given;
  for (const auto& n : p.numbers) given.push_back(std::stoll(n));
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  const bool right = used == given && std::to_string(e->value) == p.target;
  return right ? 1.f : kWellFormedWrong;
}

bool ends_after_answer(std::string_view completion) {
  std::string_view s = trim_ascii(completion);
  if (s.size() < kEndOfText.size() || s.substr(s.size() - kEndOfText.size()) != kEndOfText) return false;
  s = trim_ascii(s.substr(0, s.size() - kEndOfText.size()));
  return s.size() >= kAnswerClose.size() && s.substr(s.size() - kAnswerClose.size()) == kAnswerClose;
}

float accuracy_reward(const Problem& p, std::string_view completion) {
  const ParsedCompletion c = parse_completion(completion);
  if (!c.answer || !ends_after_answer(completion)) return 0.f;
  return p.task == Task::addition ? addition_accuracy(p, *c.answer) : countdown_accuracy(p, *c.answer);
}

Reward score(const Problem& p, std::string_view completion) { return {accuracy_reward(p, completion), format_reward(completion)}; }

}  // namespace ds::ch07
