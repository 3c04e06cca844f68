// Text that reaches the terminal or a JSON file must be valid UTF-8, but a byte-level BPE model
// can emit half a character (an early checkpoint does so all the time) and --data files can hold
// any bytes. valid_utf8 replaces what is not UTF-8 the way Hugging Face's decode does (Rust's
// String::from_utf8_lossy, Python's errors="replace"): each maximal ill-formed subpart becomes
// one U+FFFD (the Unicode Standard's recommended practice, chapter 3, "U+FFFD Substitution of
// Maximal Subparts").
#pragma once

#include <string>
#include <string_view>

namespace ds {

std::string valid_utf8(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

}  // namespace ds
