// Real tokenizers in ch01's tour: a prompt through DeepSeek-V3's tokenizer step by step, and how
// many tokens DeepSeek-V3's, GPT-2's and the mini model's tokenizers spend on English, Chinese,
// code and numbers.
#pragma once

#include <string>
#include <vector>

#include "common/tokenizer.hpp"

namespace ds::ch01 {

// Prints the pieces after each pre-tokenizer step, then the BPE tokens (id, vocabulary
// spelling, text) of prompt, with add_special_tokens (V3: the BOS token first).
void print_tokenizer_steps(const Tokenizer& tok, const std::string& name, const std::string& prompt);

// A token's bytes as a quoted, printable cell: \n, \t, \" escaped; bytes of a token that is not
// whole UTF-8 (a byte-level token can be half a character) as \xNN.
std::string shown(const std::string& bytes);

struct TextSample {
  std::string kind;   // "English", "Chinese", "code", "numbers"
  std::string text;
  bool has_words;     // words are separated by spaces (not in Chinese)
};
// Built-in samples of each kind; the numbers are drawn with seed (1 to 12 digits, some decimals).
std::vector<TextSample> comparison_samples(uint64_t seed);

struct TokenCount {
  int64_t characters = 0, words = 0, tokens = 0;   // code points, space-separated words, tokens
};
TokenCount count_tokens(const Tokenizer& tok, const TextSample& s);

// The tokens of text joined by '|', e.g. "123|456|7".
std::string token_split(const Tokenizer& tok, const std::string& text);

}  // namespace ds::ch01
