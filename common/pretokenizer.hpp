// The pre-tokenizer of a Hugging Face tokenizer.json: the steps that cut text into pieces before
// BPE sees them, so that no token ever spans two pieces. The steps this reader knows are those
// GPT-2's and DeepSeek's files use:
//   Split      a regex (or a literal string) and what to do with its matches (behavior, invert)
//   Digits     runs of digits (or each digit) as their own pieces
//   ByteLevel  optionally a space before each piece (add_prefix_space), and with use_regex GPT-2's
//              pattern; it must come last, because after it the pieces stand for bytes
//   Sequence   the steps above, each applied to every piece the previous one left
// DeepSeek-V3's file is Sequence[Split \p{N}{1,3}, Split CJK-and-kana runs, Split punctuation /
// letters / whitespace, ByteLevel(use_regex false)]. Any other type is refused by name.
#pragma once

#include <deque>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/regex.hpp"

namespace ds {

// GPT-2's pre-tokenizer pattern (ByteLevel's use_regex): contractions, letters, digits, other
// symbols, each with an optional leading space, and whitespace that gives its last space to
// the next word.
inline constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// What a Split does with the pieces of text its pattern matches (the "delimiters").
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// piece cut by pattern's matches (or, with invert, by what lies between them), as Hugging Face's
// NormalizedString::split does; empty pieces are dropped. Appends to out.
void split_by(std::string_view piece, const Regex& pattern, SplitBehavior behavior, bool invert,
              std::vector<std::string_view>& out);

class PreTokenizer {
 public:
  // ByteLevel with use_regex and no prefix space: GPT-2's, and what Tokenizer::train writes.
  static PreTokenizer gpt2();
  // The "pre_tokenizer" value of a tokenizer.json; `where` starts every error sentence.
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& where);
  // The JSON it was read from (for Tokenizer::save), as text.
  const std::string& json_text() const { return json_; }

  // The pieces of text, in order. Pieces point into text or into storage (which holds the text
  // a step created, a prefix space); both must outlive them.
  void split(std::string_view text, std::vector<std::string_view>& pieces, std::deque<std::string>& storage) const;
  // The pieces after each step, and each step's one-line description, for showing the process.
  std::vector<std::vector<std::string>> trace(std::string_view text) const;
  std::vector<std::string> step_names() const;

 private:
  struct Step;
  std::vector<std::shared_ptr<const Step>> steps_;
  std::string json_;
  void apply(const Step& s, std::vector<std::string_view>& pieces, std::deque<std::string>& storage) const;
};

}  // namespace ds
