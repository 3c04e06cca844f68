// A compiled regular expression over UTF-8 text, backed by PCRE2 with UTF and UCP on, so \p{L},
// \p{N}, \s and character ranges mean what they mean in Unicode (code points above U+FFFF
// included), and lookahead such as \s+(?!\S) works. Hugging Face's tokenizers run the same
// patterns through Oniguruma; std::regex has neither Unicode properties nor UTF-8.
// PCRE2's JIT compiles the pattern to machine code when the platform allows it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ds {

class Regex {
 public:
  // Throws std::runtime_error with PCRE2's reason and the offset when pattern does not compile.
  explicit Regex(const std::string& pattern);
  // A regex that matches `literal` exactly (every character escaped).
  static Regex literal(std::string_view literal);

  // The successive non-overlapping matches in text as [begin, end) byte offsets, scanning as
  // Rust's find_iter does: after an empty match the scan moves on by one character.
  // Bytes that are not UTF-8 never match anything (PCRE2_MATCH_INVALID_UTF), so a splitter
  // leaves them between matches; for valid UTF-8 this changes nothing.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  std::shared_ptr<const Code> code_;   // shared: a compiled pattern is immutable
};

}  // namespace ds
