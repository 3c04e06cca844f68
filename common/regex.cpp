#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/regex.hpp"

#include <pcre2.h>

#include <stdexcept>

namespace ds {

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {
std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

size_t utf8_length(unsigned char lead) { return lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }
}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto code = std::make_shared<Code>();
  code->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  if (!code->code)
    throw std::runtime_error("the regex '" + pattern + "' does not compile: " + pcre2_message(error) + " at offset " + std::to_string(offset));
  pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE);   // where JIT is unavailable the interpreter runs it
  code_ = std::move(code);
}

Regex Regex::literal(std::string_view literal) {
  static const char* hex = "0123456789ABCDEF";
  std::string p;   // ASCII other than letters and digits as \x{HH}; the rest stands for itself
  for (const char c : literal) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
    if (plain) {
      p.push_back(c);
    } else {
      p += "\\x{";
      p.push_back(hex[u >> 4]);
      p.push_back(hex[u & 15]);
      p.push_back('}');
    }
  }
  return Regex(p);
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> out;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    const int rc = pcre2_match(code_->code, subject, text.size(), start, 0, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      throw std::runtime_error("the regex '" + pattern_ + "' failed on the text: " + pcre2_message(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    out.emplace_back(ov[0], ov[1]);
    if (ov[1] > ov[0]) {
      start = ov[1];
    } else {   // an empty match: move on by one character
      if (ov[1] >= text.size()) break;
      start = ov[1] + utf8_length(static_cast<unsigned char>(text[ov[1]]));
    }
  }
  pcre2_match_data_free(md);
  return out;
}

}  // namespace ds
