// The answer language of the countdown task: non-negative integer literals, + - *, round
// brackets and ASCII whitespace, with the usual precedence (* before + and -, left to right).
//
//   expr   := term (('+' | '-') term)*
//   term   := factor ('*' factor)*
//   factor := literal | '(' expr ')'          literal: "0" or a digit 1-9 followed by digits
//
// Evaluation uses checked 64-bit arithmetic: an overflowing literal or intermediate result is an
// error, never undefined behaviour. So is any other character ('/', '^', a unary minus, a Unicode
// digit or operator), a leading zero, a nesting deeper than kMaxDepth or a text longer than
// kMaxChars: a verifier reads whatever a policy writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds::ch07 {

struct Evaluated {
  int64_t value = 0;
  std::vector<int64_t> literals;   // in the order they appear
};

inline constexpr size_t kMaxChars = 256;
inline constexpr int kMaxDepth = 32;

// The value and literals of `text`, or nullopt with the reason in *error (if given).
std::optional<Evaluated> evaluate_expression(std::string_view text, std::string* error = nullptr);

}  // namespace ds::ch07
