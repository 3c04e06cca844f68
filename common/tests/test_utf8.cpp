#include <doctest/doctest.h>

#include "common/utf8.hpp"

using namespace ds;

TEST_CASE("utf8: each maximal ill-formed subpart becomes one U+FFFD, as Python's and Hugging Face's decode do") {
  const std::string R = "\xEF\xBF\xBD";   // U+FFFD
  // Expected outputs are those of Python's bytes.decode("utf-8", errors="replace").
  CHECK(valid_utf8("plain ascii") == "plain ascii");
  CHECK(valid_utf8("\xE2\x82\xAC and \xF0\x9F\x98\x80") == "\xE2\x82\xAC and \xF0\x9F\x98\x80");   // euro sign, emoji
  CHECK(valid_utf8("a\xE2\x82") == "a" + R);                   // half a character at the end
  CHECK(valid_utf8("\xF0\x9F\x98x") == R + "x");               // 3 of an emoji's 4 bytes
  CHECK(valid_utf8("\xFF") == R);                              // never a UTF-8 byte
  CHECK(valid_utf8("\x80\x80") == R + R);                      // stray continuation bytes
  CHECK(valid_utf8("\xC0\xAF") == R + R);                      // overlong '/'
  CHECK(valid_utf8("\xED\xA0\x80") == R + R + R);              // a UTF-16 surrogate
  CHECK(valid_utf8("\xF0\x80\x80") == R + R + R);              // overlong 4-byte form
  CHECK(valid_utf8("\xF4\x90\x80\x80") == R + R + R + R);      // above U+10FFFF
  CHECK(valid_utf8("\xE2(\xA1") == R + "(" + R);
  CHECK(valid_utf8(std::string("\0z", 2)) == std::string("\0z", 2));
  CHECK(is_valid_utf8("\xE2\x82\xAC"));
  CHECK_FALSE(is_valid_utf8("\xE2\x82"));
  CHECK(is_valid_utf8(valid_utf8("\xC3\x28\xA0\xA1\xF8\x88\x80\x80\x80")));
}
