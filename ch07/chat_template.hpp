// The chat template of DeepSeek-R1-Zero (DeepSeek-R1 paper, Table 1): an instruction, the
// question after "User:", and "Assistant:", after which the model writes its reasoning between
// <think> and </think> and its final answer between <answer> and </answer>. R1-Zero's rule-based
// reward has two parts (sec. 2.2.2): accuracy (is the answer right; verifiers.hpp) and format
// (are the reasoning and the answer inside their markers; here).
//
// The four markers are special tokens (task_tokenizer.hpp): one id each, never split by BPE and
// never produced by a merge, so the model emits a marker in one step and the format check is a
// check on those ids' text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds::ch07 {

inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";
inline constexpr std::string_view kAnswerOpen = "<answer>";
inline constexpr std::string_view kAnswerClose = "</answer>";
inline constexpr std::string_view kEndOfText = "<|endoftext|>";

// The markers, in the order above: the special tokens a tokenizer needs for this template.
std::vector<std::string> template_special_tokens();

struct ChatTemplate {
  std::string system;   // the instruction before "User:"; empty for the compact form

  // R1's Table 1 wording: a fixed instruction before every question.
  static ChatTemplate r1();
  // No instruction: "User: {question}. Assistant:". What the SFT-trained tiny models use: the
  // instruction only helps a model that can read it, and costs context on a 256-token model.
  static ChatTemplate compact();

  // "{system} User: {question}. Assistant:" -- the model continues after the colon.
  std::string prompt(std::string_view question) const;
};

// " <think> {reasoning} </think> <answer> {answer} </answer>": the completion SFT trains on.
std::string format_completion(std::string_view reasoning, std::string_view answer);

struct ParsedCompletion {
  // The completion is exactly: whitespace, <think>, text, </think>, whitespace, <answer>, a
  // non-blank text, </answer>, whitespace (a final <|endoftext|> is ignored); the texts hold no marker.
  bool well_formed = false;
  // The text between the one <answer> and the one </answer> that follows it, ASCII whitespace
  // trimmed; empty when there is not exactly one such pair (then no answer counts).
  std::optional<std::string> answer;
  std::string reasoning;   // the text inside <think> ... </think> when well formed
};
ParsedCompletion parse_completion(std::string_view completion);

// R1-Zero's format reward: 1 when the completion is well formed, else 0.
float format_reward(std::string_view completion);

// ASCII whitespace only: a non-breaking or ideographic space is not whitespace to a verifier.
std::string_view trim_ascii(std::string_view s);

}  // namespace ds::ch07
