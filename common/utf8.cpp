#include "common/utf8.hpp"

namespace ds {

namespace {
// Bytes of the well-formed sequence that `lead` starts (Unicode Table 3-7), and the range its
// second byte must fall in (tighter than 80..BF after E0, ED, F0 and F4: no overlong forms, no
// surrogates, nothing above U+10FFFF). 0: not a lead byte.
struct Lead {
  int length;
  unsigned char lo, hi;
};
Lead lead_of(unsigned char b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// How many bytes from s[i] form one well-formed character (> 0), or minus the length of the
// maximal ill-formed subpart starting there (< 0).
int scan(std::string_view s, size_t i) {
  const Lead lead = lead_of(static_cast<unsigned char>(s[i]));
  if (lead.length == 0) return -1;
  for (int j = 1; j < lead.length; ++j) {
    if (i + j >= s.size()) return -j;
    const unsigned char c = static_cast<unsigned char>(s[i + j]);
    const bool ok = j == 1 ? c >= lead.lo && c <= lead.hi : c >= 0x80 && c <= 0xBF;
    if (!ok) return -j;
  }
  return lead.length;
}
}  // namespace

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const int n = scan(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";   // U+FFFD
      i += -n;
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const int n = scan(s, i);
    if (n < 0) return false;
    i += n;
  }
  return true;
}

}  // namespace ds
