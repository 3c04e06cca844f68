#include <doctest/doctest.h>

#include <string>

#include "ch07/expression.hpp"

using namespace ds::ch07;

namespace {
int64_t value_of(const std::string& s) {
  std::string err;
  const auto e = evaluate_expression(s, &err);
  INFO(s << ": " << err);
  REQUIRE(e.has_value());
  return e->value;
}
std::string error_of(const std::string& s) {
  std::string err;
  return evaluate_expression(s, &err) ? "(no error)" : err;
}
}  // namespace

TEST_CASE("expression: precedence, brackets, whitespace and the literals used") {
  CHECK(value_of("3 + 4 * 5") == 23);
  CHECK(value_of("(3 + 4) * 5") == 35);
  CHECK(value_of("10 - 3 - 2") == 5);   // left to right
  CHECK(value_of("10 - (3 - 2)") == 9);
  CHECK(value_of("2*3*4") == 24);
  CHECK(value_of(" \t( ( 7 ) )\n") == 7);
  CHECK(value_of("3 - 5") == -2);       // negative results are values, not errors
  CHECK(value_of("0") == 0);
  CHECK(evaluate_expression("(1 + 2) * 3 - 4")->literals == std::vector<int64_t>{1, 2, 3, 4});
}

TEST_CASE("expression: everything outside the language is an error, never a crash") {
  CHECK(error_of("") == "the expression ends where a number or '(' should be");
  CHECK(error_of("   ") == "the expression ends where a number or '(' should be");
  CHECK(error_of("8 / 2") == "unexpected '/' at position 2");
  CHECK(error_of("-3 + 5") == "'-' at position 0 is not a number or '('");   // no unary minus
  CHECK(error_of("3 +") == "the expression ends where a number or '(' should be");
  CHECK(error_of("3 4") == "unexpected '4' at position 2");
  CHECK(error_of("(3 + 4") == "a '(' is not closed");
  CHECK(error_of("3 + 4)") == "unexpected ')' at position 5");
  CHECK(error_of("()") == "')' at position 1 is not a number or '('");
  CHECK(error_of("2^3") == "unexpected '^' at position 1");
  CHECK(error_of("07 + 1") == "a number has a leading zero");
  CHECK(error_of("3.5") == "unexpected '.' at position 1");
  CHECK(error_of("3 \xC3\x97 4") != "(no error)");          // U+00D7 multiplication sign
  CHECK(error_of("\xEF\xBC\x93 + 4") != "(no error)");      // fullwidth digit three
  CHECK(error_of("3 \xE2\x88\x92 4") != "(no error)");      // U+2212 minus sign
  CHECK(error_of(std::string(kMaxDepth + 1, '(') + "1" + std::string(kMaxDepth + 1, ')')) == "brackets nest deeper than 32");
  CHECK(value_of(std::string(kMaxDepth, '(') + "1" + std::string(kMaxDepth, ')')) == 1);
  CHECK(error_of(std::string(100000, '(')) == "the expression is longer than 256 characters");
}

TEST_CASE("expression: 64-bit overflow is detected in literals, sums, differences and products") {
  CHECK(value_of("9223372036854775807") == INT64_MAX);
  CHECK(error_of("9223372036854775808") == "a number overflows 64 bits");
  CHECK(error_of("99999999999999999999999999") == "a number overflows 64 bits");
  CHECK(error_of("9223372036854775807 + 1") == "the value overflows 64 bits");
  CHECK(error_of("0 - 9223372036854775807 - 2") == "the value overflows 64 bits");
  CHECK(error_of("4294967296 * 4294967296") == "the value overflows 64 bits");
  CHECK(value_of("3037000499 * 3037000499") == 9223372030926249001LL);
}
