// The pretraining corpus of R1-Zero's base, built to resemble what a real base model has read
// before RL (DeepSeek-V3-Base, R1 paper sec. 2.2) without ever showing it R1's template:
//   - plain sums as people write them, most significant digit first, bare ("345+78=423") or in
//     sentences ("The sum of 345 and 78 is 423.");
//   - worked column-by-column additions in a textbook's style: the exercise, the column sums from
//     the ones upward, and the digits of the sum read off from the ones;
//   - markup documents on unrelated topics that use <think> and <answer> tags: notes with a
//     <think> aside, quizzes with an <answer> tag, chat logs of riddles with a tagged reply.
// The pieces of R1-Zero's format exist apart; no document puts an addition inside a tag, and no
// document holds "User:" or "Assistant:". RL has something to start from exactly when the template
// elicits the pieces together with non-zero probability (pass@k > 0 at the start).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "ch07/task_model.hpp"

namespace ds::ch07 {

// Shares of the three document kinds (normalised when drawn).
struct CorpusMix {
  double plain = 0.2, textbook = 0.45, markup = 0.35;
};

// "345+78=423", "345 + 78 = 423", "The sum of 345 and 78 is 423." or "345 plus 78 makes 423." (one
// of them, chosen by rng): the sum most significant digit first, as text writes it.
std::string plain_sum_doc(const Problem& p, Rng& rng);

// A textbook's worked addition: "Add 345 + 78 and write the sum least significant digit first. "
// + textbook_solution(p), sometimes after an "Example." or "Exercise." heading; one in four is a
// chat log instead ("Ana: Add ... first. Ben: Column by column ..."), the reply untagged.
std::string textbook_doc(const Problem& p, Rng& rng);

// The worked solution of p in the textbook's words: "Column by column from the ones: 5+8=13,
// 4+7+1=12, 3+1=4. The digits from the ones: 324."
std::string textbook_solution(const Problem& p);

// A markup document on an unrelated topic with <think> or <answer> tags: a shopping note with a
// <think> aside, a quiz with an <answer>, or a chat log whose reply is marked up ("Ana: What has
// keys but opens no locks? Ben: <think> it has keys and plays music: piano. </think> <answer>
// piano </answer>"; riddles, look-ups, numbers written with their digits from the ones), half of them after the sentence "Write the reasoning in <think>
// </think> and the answer in <answer> </answer>.".
std::string markup_doc(Rng& rng);

// One document of the mix; additions of `lengths` from the training split, never one whose
// problem_key() is in `exclude` (validation problems kept apart).
std::string corpus_doc(const CorpusMix& mix, const std::vector<int>& lengths, const std::set<std::string>& exclude, Rng& rng);

// R1-Zero's template in compact form: Table 1's instruction shortened to the markers' use, then
// "User: {question}. Assistant:".
ChatTemplate r1_zero_template();

// A task tokenizer (digits apart, markers special) trained on a fixed sample of the corpus and the
// template's instruction.
Tokenizer corpus_tokenizer(int vocab = 384);

// p with the textbook's worked solution as its reasoning: the length budget of sampling
// (completion_budget) then fits a worked solution inside <think>.
Problem with_textbook_reasoning(Problem p);

// Does the completion write a worked solution inside <think>: well formed, and the <think> text
// holds at least one "=" per column of the sum (the column sums).
bool writes_worked_solution(const Problem& p, std::string_view completion);

// R1's language-consistency measure (sec. 2.3.2: the proportion of target-language words in the
// CoT) in miniature: the share of the <think> text's words that are in the textbook's language
// (its words, and column sums written with digits, + and =), 0 without a well-formed <think>.
// A chain of thought that drifts into the markup documents' prose scores less.
double textbook_language_share(std::string_view completion);

// The base's direct skill in plain text: greedy continuation of "<|endoftext|>a+b=" up to
// <|endoftext|>, right when it is the sum (most significant digit first). The fraction right.
double direct_sum_exact_match(ch02::LanguageModel& model, const TaskCodec& codec, const std::vector<Problem>& problems);

// The base's worked skill in the textbook's words: greedy continuation of the exercise and
// "Column by column from the ones:", right when the digits read off at the end are the answer.
double textbook_exact_match(ch02::LanguageModel& model, const TaskCodec& codec, const std::vector<Problem>& problems);

}  // namespace ds::ch07
