// Tokens for the tasks: every digit a token of its own, every chat marker one special token.
//
// Why digits apart. A byte-level BPE trained on text learns merges such as "12" or " 45", so
// "345 + 78" may become [" 34", "5", " +", " 78"]: the model then has to learn the digits inside
// each number token separately, and the k-th digit of the sum is not at a fixed distance from
// the k-th digits of the operands. With one token per digit, column k of the addition is a fixed
// token offset, which is what a small model can learn and generalise to longer numbers.
// DeepSeek LLM split numbers into single digits for the same reason; DeepSeek-V3's pre-tokenizer
// groups at most three (\p{N}{1,3}).
//
// How. The core's tokenizer (common/tokenizer.hpp) is a byte-level BPE whose pre-tokenizer keeps
// a run of digits as one piece, so merges inside it can be learned. split_digits() removes every
// merge whose result contains a digit: a digit then stays its single byte token, whatever the
// text around it. Nothing else changes: the other merges and every id stay as they were, so a
// pretrained model's embeddings still line up, and the result is saved as an ordinary
// tokenizer.json that any reader (ch06_generate, Hugging Face tokenizers) encodes the same way.
// The tokens the removed merges made stay in the vocabulary, unreachable by encode().
#pragma once

#include <string>
#include <vector>

#include "common/tokenizer.hpp"

namespace ds::ch07 {

// Merges (in tok) whose merged token contains an ASCII digit.
int count_digit_merges(const Tokenizer& tok);

// tok without its digit merges; ids, special tokens and every other merge unchanged.
Tokenizer split_digits(const Tokenizer& tok);

// A tokenizer for training on the tasks from scratch: byte-level BPE learned on docs with the
// digits taken out (so no merge is spent on numbers), <|endoftext|> and the four chat markers as
// special tokens.
Tokenizer train_task_tokenizer(const std::vector<std::string>& docs, int vocab_size);

// Throws one sentence unless each chat marker is a special token (one id) and each digit
// encodes to one token in any context.
void check_task_tokenizer(const Tokenizer& tok);

}  // namespace ds::ch07
