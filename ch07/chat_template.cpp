#include "ch07/chat_template.hpp"

namespace ds::ch07 {

std::vector<std::string> template_special_tokens() {
  return {std::string(kThinkOpen), std::string(kThinkClose), std::string(kAnswerOpen), std::string(kAnswerClose)};
}

ChatTemplate ChatTemplate::r1() {
  // DeepSeek-R1, Table 1 ("prompt" is replaced with the question).
  return {"A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
          "The assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
          "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, "
          "i.e., <think> reasoning process here </think> <answer> answer here </answer>."};
}

ChatTemplate ChatTemplate::compact() { return {""}; }

std::string ChatTemplate::prompt(std::string_view question) const {
  std::string p = system;
  if (!p.empty()) p += ' ';
  p += "User: ";
  p += question;
  p += ". Assistant:";
  return p;
}

std::string format_completion(std::string_view reasoning, std::string_view answer) {
  std::string c = " ";
  c += kThinkOpen;
  c += ' ';
  c += reasoning;
  c += ' ';
  c += kThinkClose;
  c += ' ';
  c += kAnswerOpen;
  c += ' ';
  c += answer;
  c += ' ';
  c += kAnswerClose;
  return c;
}

std::string_view trim_ascii(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

namespace {
size_t count(std::string_view s, std::string_view what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string_view::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

bool has_marker(std::string_view s) {
  for (const std::string_view m : {kThinkOpen, kThinkClose, kAnswerOpen, kAnswerClose})
    if (s.find(m) != std::string_view::npos) return true;
  return false;
}

// The text after `prefix` if s starts with it.
std::optional<std::string_view> after(std::string_view s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return std::nullopt;
  return s.substr(prefix.size());
}
}  // namespace

ParsedCompletion parse_completion(std::string_view completion) {
  ParsedCompletion out;
  std::string_view s = trim_ascii(completion);
  if (s.size() >= kEndOfText.size() && s.substr(s.size() - kEndOfText.size()) == kEndOfText)
    s = trim_ascii(s.substr(0, s.size() - kEndOfText.size()));

  // The answer: exactly one <answer> and one </answer>, in that order.
  if (count(s, kAnswerOpen) == 1 && count(s, kAnswerClose) == 1) {
    const size_t open = s.find(kAnswerOpen), close = s.find(kAnswerClose);
    if (open < close) {
      const std::string_view a = trim_ascii(s.substr(open + kAnswerOpen.size(), close - open - kAnswerOpen.size()));
      if (!a.empty()) out.answer = std::string(a);
    }
  }

  // The format: <think> R </think> ws <answer> A </answer>, nothing else.
  auto rest = after(s, kThinkOpen);
  if (!rest) return out;
  const size_t think_end = rest->find(kThinkClose);
  if (think_end == std::string_view::npos) return out;
  const std::string_view reasoning = rest->substr(0, think_end);
  rest = after(trim_ascii(rest->substr(think_end + kThinkClose.size())), kAnswerOpen);
  if (!rest || rest->size() < kAnswerClose.size() || rest->substr(rest->size() - kAnswerClose.size()) != kAnswerClose) return out;
  const std::string_view answer = rest->substr(0, rest->size() - kAnswerClose.size());
  if (has_marker(reasoning) || has_marker(answer) || trim_ascii(answer).empty()) return out;
  out.well_formed = true;
  out.reasoning = std::string(trim_ascii(reasoning));
  return out;
}

float format_reward(std::string_view completion) { return parse_completion(completion).well_formed ? 1.f : 0.f; }

}  // namespace ds::ch07
