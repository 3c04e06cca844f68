#include "ch07/expression.hpp"

namespace ds::ch07 {
namespace {

// A recursive-descent parser that evaluates as it goes. The first error stops it.
class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<Evaluated> run(std::string* error) {
    Evaluated out;
    const auto v = expr(0);
    skip_space();
    if (v && pos_ != s_.size()) fail(std::string("unexpected '") + s_[pos_] + "' at position " + std::to_string(pos_));
    if (!error_.empty()) {
      if (error) *error = error_;
      return std::nullopt;
    }
    out.value = *v;
    out.literals = std::move(literals_);
    return out;
  }

 private:
  std::optional<int64_t> expr(int depth) {
    auto acc = term(depth);
    while (acc) {
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '+' && s_[pos_] != '-')) break;
      const char op = s_[pos_++];
      const auto rhs = term(depth);
      if (!rhs) return std::nullopt;
      int64_t r;
      if (op == '+' ? __builtin_add_overflow(*acc, *rhs, &r) : __builtin_sub_overflow(*acc, *rhs, &r)) return fail("the value overflows 64 bits");
      acc = r;
    }
    return acc;
  }

  std::optional<int64_t> term(int depth) {
    auto acc = factor(depth);
    while (acc) {
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != '*') break;
      ++pos_;
      const auto rhs = factor(depth);
      if (!rhs) return std::nullopt;
      int64_t r;
      if (__builtin_mul_overflow(*acc, *rhs, &r)) return fail("the value overflows 64 bits");
      acc = r;
    }
    return acc;
  }

  std::optional<int64_t> factor(int depth) {
    skip_space();
    if (pos_ >= s_.size()) return fail("the expression ends where a number or '(' should be");
    const char c = s_[pos_];
    if (c == '(') {
      if (depth + 1 > kMaxDepth) return fail("brackets nest deeper than " + std::to_string(kMaxDepth));
      ++pos_;
      const auto v = expr(depth + 1);
      if (!v) return std::nullopt;
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != ')') return fail("a '(' is not closed");
      ++pos_;
      return v;
    }
    if (c < '0' || c > '9') return fail(std::string("'") + c + "' at position " + std::to_string(pos_) + " is not a number or '('");
    const size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (__builtin_mul_overflow(v, int64_t{10}, &v) || __builtin_add_overflow(v, int64_t{s_[pos_] - '0'}, &v))
        return fail("a number overflows 64 bits");
      ++pos_;
    }
    if (s_[start] == '0' && pos_ - start > 1) return fail("a number has a leading zero");
    literals_.push_back(v);
    return v;
  }

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  std::nullopt_t fail(const std::string& why) {
    if (error_.empty()) error_ = why;
    return std::nullopt;
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::vector<int64_t> literals_;
  std::string error_;
};

}  // namespace

std::optional<Evaluated> evaluate_expression(std::string_view text, std::string* error) {
  if (text.size() > kMaxChars) {
    if (error) *error = "the expression is longer than " + std::to_string(kMaxChars) + " characters";
    return std::nullopt;
  }
  return Parser(text).run(error);
}

}  // namespace ds::ch07
