// What a tokenizer that loaded must do, whatever file it came from: encode any text to ids
// inside the vocabulary (or refuse a byte it has no token for, with a sentence), decode_bytes
// those ids back to exactly the text, decode them to valid UTF-8 (the same text when it was
// UTF-8), and survive a save + load unchanged.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/tokenizer.hpp"
#include "common/utf8.hpp"
#include "fuzz/fuzz_util.hpp"

namespace ds::fuzz {

inline void check_round_trip(const Tokenizer& tok, std::string_view text) {
  std::vector<int32_t> ids;
  if (!accepts([&] { ids = tok.encode(text); })) return;   // a byte with no token
  for (const int32_t id : ids)
    if (id < 0 || id >= tok.vocab_size()) fail("encode gave id " + std::to_string(id) + " outside the vocabulary");
  if (tok.decode_bytes(ids) != text) fail("decode_bytes(encode(text)) != text");
  const std::string shown = tok.decode(ids);
  if (!is_valid_utf8(shown)) fail("decode gave bytes that are not UTF-8");
  if (is_valid_utf8(text) && shown != text) fail("decode(encode(text)) != text for UTF-8 text");
}

inline void check_loaded_tokenizer(const Tokenizer& tok, std::string_view input, const ScratchFile& scratch) {
  for (int32_t id = 0; id < tok.vocab_size(); ++id) (void)tok.token_bytes(id);
  static const char* const kTexts[] = {"", " the cat sat", "Hello, world!\n\n  x", "3+4=7 <|endoftext|> ok",
                                       "na\xc3\xafve \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80", "\xff\xfe\x80"};
  for (const char* t : kTexts) check_round_trip(tok, t);
  check_round_trip(tok, input.substr(0, 256));
  // Texts this vocabulary can spell: each merge's two halves side by side (so the merge
  // fires), and all tokens in a row.
  std::string all;
  for (const auto& [a, b] : tok.merges()) check_round_trip(tok, tok.token_bytes(a) + tok.token_bytes(b));
  for (int32_t id = 0; id < tok.vocab_size() && all.size() < 4096; ++id) all += tok.token_bytes(id);
  check_round_trip(tok, all);
  const std::string again = scratch.sibling("saved_tokenizer.json");
  tok.save(again);
  const Tokenizer back = Tokenizer::load(again);
  if (back.vocab_size() != tok.vocab_size() || back.merges() != tok.merges() ||
      back.special_tokens() != tok.special_tokens())
    fail("tokenizer.json save + load changed the tokenizer");
  for (int32_t id = 0; id < tok.vocab_size(); ++id)
    if (back.token_str(id) != tok.token_str(id)) fail("save + load changed token " + std::to_string(id));
}

}  // namespace ds::fuzz
