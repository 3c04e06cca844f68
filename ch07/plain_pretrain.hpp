// The base of R1-Zero: a model pretrained on plain text of the task, never on the chat template.
// DeepSeek-R1-Zero starts from DeepSeek-V3-Base, which has read a great deal of text but was
// never trained on R1's template, and learns the <think>/<answer> format from the format reward
// alone (R1 paper, sec. 2.2). Here the base reads sums as they are written in plain text,
// "52031+691=22725" (the sum reversed, as the task answers it), or countdown solutions,
// "4*1-2+2=4": no "User:", no "Assistant:", no marker. Its tokenizer is the task tokenizer, so
// the marker tokens exist in its vocabulary but never occur in its training text.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ch07/sft.hpp"

namespace ds::ch07 {

// A problem as plain text: addition "a+b=answer" (the answer is the reversed sum), countdown
// "expression=target".
std::string plain_text(const Problem& p);

// Next-token batch of plain texts: each row is <|endoftext|> text <|endoftext|>, with a target on
// every token after the first (the whole text and its end), right-padded with -100 targets.
Batch plain_batch(const TaskCodec& codec, const std::vector<Problem>& problems);

// Next-token batch of documents: each row is <|endoftext|> document <|endoftext|>, every token
// after the first a target, right-padded with -100 targets (plain_batch is this on plain_text).
Batch document_batch(const TaskCodec& codec, const std::vector<std::string>& docs);

// The base's own skill, in its own notation: greedy continuation of "<|endoftext|>a+b=" (countdown:
// "<|endoftext|>expression=" is not a question, so only addition) up to <|endoftext|>, right when it
// is exactly the answer. The fraction right.
double plain_exact_match(ch02::LanguageModel& model, const TaskCodec& codec, const std::vector<Problem>& problems);

// `steps` steps of next-token pretraining on plain texts of fresh training problems of `lengths`,
// trainer.batch_size per step (the SFT trainer's loss: mean cross-entropy over the targets).
// stop() is polled after every step; returns the steps taken.
int64_t pretrain_plain(SftTrainer& trainer, const TaskCodec& codec, Task task, const std::vector<int>& lengths, int64_t steps, Rng& rng,
                       const std::function<bool()>& stop = {});

// The same on documents from `next_doc` (one document per call): the pretraining of R1-Zero's
// base on its corpus (base_corpus.hpp). Returns the steps taken.
int64_t pretrain_documents(SftTrainer& trainer, const TaskCodec& codec, const std::function<std::string(Rng&)>& next_doc, int64_t steps,
                           Rng& rng, const std::function<bool()>& stop = {});

}  // namespace ds::ch07
