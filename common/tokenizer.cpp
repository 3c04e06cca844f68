// Byte-level BPE: the byte <-> character map, the pre-tokenizer, and encode/decode.
// Training lives in tokenizer_train.cpp, the file formats in tokenizer_io.cpp.
#include "common/tokenizer.hpp"

#include <algorithm>
#include <climits>
#include <stdexcept>

#include "common/utf8.hpp"

namespace ds {
namespace {

std::string utf8(uint32_t cp) {   // code points here are all below U+0800
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

enum CharClass : uint8_t { kSpace, kLetter, kDigit, kOther };

// Non-ASCII bytes count as letters: that keeps multi-byte UTF-8 characters in one piece
// without a Unicode table, at the price of gluing e.g. "“" to the word after it.
CharClass char_class(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u == ' ' || u == '\t' || u == '\n' || u == '\v' || u == '\f' || u == '\r') return kSpace;
  if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80) return kLetter;
  if (u >= '0' && u <= '9') return kDigit;
  return kOther;
}

// GPT-2 keeps English contractions as their own pieces: "don't" -> "don", "'t".
size_t contraction_len(std::string_view t, size_t i) {
  if (t[i] != '\'' || i + 1 >= t.size()) return 0;
  const char a = t[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 < t.size()) {
    const char b = t[i + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

// The GPT-2 regex  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// written as a loop. Whitespace before a word gives its last space to the word (" world"),
// so the same word after a space is always the same token.
template <class Emit>
void for_each_pretoken(std::string_view t, Emit&& emit) {
  const size_t n = t.size();
  size_t i = 0;
  while (i < n) {
    const size_t start = i;
    if (const size_t c = contraction_len(t, i)) {
      emit(t.substr(i, c));
      i += c;
      continue;
    }
    if (t[i] == ' ' && i + 1 < n && char_class(t[i + 1]) != kSpace) ++i;   // optional leading space
    const CharClass k = char_class(t[i]);
    if (k != kSpace) {
      size_t j = i + 1;
      while (j < n && char_class(t[j]) == k) ++j;
      emit(t.substr(start, j - start));
      i = j;
      continue;
    }
    size_t j = i;
    while (j < n && char_class(t[j]) == kSpace) ++j;
    if (j == n) {   // trailing whitespace: one piece
      emit(t.substr(i));
      i = n;
    } else if (j - i >= 2) {   // keep the last whitespace char for the next piece
      emit(t.substr(i, j - 1 - i));
      i = j - 1;
    } else {   // a lone '\n' or '\t' before a word
      emit(t.substr(i, 1));
      i = j;
    }
  }
}

// The inverse of bytes_to_unicode for one token spelling; false if it is not byte-level.
bool unicode_to_bytes(std::string_view token, std::string& out) {
  static const std::vector<int> byte_of_cp = [] {
    std::vector<int> table(0x800, -1);
    const auto& b2u = bytes_to_unicode();
    for (int b = 0; b < 256; ++b) {
      const std::string& s = b2u[b];
      const uint32_t cp =
          s.size() == 1 ? static_cast<unsigned char>(s[0]) : ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
      table[cp] = b;
    }
    return table;
  }();
  out.clear();
  for (size_t i = 0; i < token.size();) {
    const auto c0 = static_cast<unsigned char>(token[i]);
    uint32_t cp;
    if (c0 < 0x80) {
      cp = c0;
      i += 1;
    } else if ((c0 & 0xE0) == 0xC0 && i + 1 < token.size()) {
      cp = ((c0 & 0x1Fu) << 6) | (static_cast<unsigned char>(token[i + 1]) & 0x3Fu);
      i += 2;
    } else {
      return false;
    }
    if (byte_of_cp[cp] < 0) return false;
    out += static_cast<char>(byte_of_cp[cp]);
  }
  return true;
}

}  // namespace

const std::array<std::string, 256>& bytes_to_unicode() {
  // Bytes that are already printable keep their own character; the rest (control codes,
  // space, DEL, NBSP, soft hyphen) are moved, in byte order, to U+0100, U+0101, ...
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[b] = utf8(printable ? b : next++);
    }
    return t;
  }();
  return table;
}

std::vector<std::string_view> pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  for_each_pretoken(text, [&](std::string_view p) { pieces.push_back(p); });
  return pieces;
}

Tokenizer Tokenizer::from_parts(std::vector<std::string> vocab,
                                const std::vector<std::pair<std::string, std::string>>& merges,
                                const std::vector<std::string>& specials,
                                const std::string& where) {
  auto fail = [&](const std::string& what) { throw std::runtime_error(where + ": " + what); };
  Tokenizer t;
  t.vocab_ = std::move(vocab);
  t.specials_ = specials;
  const auto n = static_cast<int32_t>(t.vocab_.size());
  for (int32_t id = 0; id < n; ++id) {
    auto [it, fresh] = t.token_to_id_.emplace(t.vocab_[id], id);
    if (!fresh)
      fail("the token '" + t.vocab_[id] + "' appears twice (ids " + std::to_string(it->second) +
           " and " + std::to_string(id) + ")");
  }
  std::vector<bool> is_special(n, false);
  for (const auto& s : specials) {
    if (s.empty()) fail("a special token is the empty string");
    const int32_t id = t.token_id(s);
    if (id < 0) fail("the special token '" + s + "' is not in the vocabulary");
    is_special[id] = true;
  }
  t.bytes_.resize(n);
  t.byte_id_.fill(-1);
  for (int32_t id = 0; id < n; ++id) {
    if (is_special[id]) {
      t.bytes_[id] = t.vocab_[id];   // special tokens decode to their literal text
      continue;
    }
    if (!unicode_to_bytes(t.vocab_[id], t.bytes_[id]))
      fail("the token '" + t.vocab_[id] + "' (id " + std::to_string(id) +
           ") is not byte-level: it uses a character outside GPT-2's bytes_to_unicode map");
    if (t.bytes_[id].size() == 1) {
      int32_t& slot = t.byte_id_[static_cast<unsigned char>(t.bytes_[id][0])];
      if (slot < 0) slot = id;
    }
  }
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const std::string label =
        "merge " + std::to_string(rank + 1) + " ('" + left + " " + right + "')";
    const int32_t a = t.token_id(left), b = t.token_id(right);
    if (a < 0 || b < 0) fail(label + " names a token that is not in the vocabulary");
    const int32_t merged = t.token_id(left + right);
    if (merged < 0) fail(label + " makes '" + left + right + "', which is not in the vocabulary");
    // A special token decodes to its literal text, not to the bytes it spells, so a merge
    // that built one would make decode(encode(s)) != s (found by fuzz/).
    if (is_special[merged]) fail(label + " makes the special token '" + left + right + "'; special tokens are only matched literally");
    t.merges_.emplace_back(a, b);
    t.merge_of_.emplace(pair_key(a, b), MergeResult{static_cast<int32_t>(rank), merged});
  }
  return t;
}

std::vector<int32_t> Tokenizer::add_special_tokens(const std::vector<std::string>& tokens) {
  std::vector<std::string> vocab = vocab_, specials = specials_;
  for (const auto& s : tokens) {
    if (s.empty()) throw std::runtime_error("Tokenizer::add_special_tokens: a special token is the empty string");
    if (std::find(specials.begin(), specials.end(), s) != specials.end()) continue;
    if (token_id(s) >= 0) throw std::runtime_error("Tokenizer::add_special_tokens: '" + s + "' is already an ordinary token of the vocabulary");
    vocab.push_back(s);
    specials.push_back(s);
  }
  std::vector<std::pair<std::string, std::string>> merges;
  for (const auto& [a, b] : merges_) merges.emplace_back(vocab_[a], vocab_[b]);
  *this = from_parts(std::move(vocab), merges, specials, "Tokenizer::add_special_tokens");
  {
    std::lock_guard<std::mutex> lock(cache_.mu);
    cache_.ids.clear();   // the assignment keeps the word cache; it would still be right (merges are unchanged), but start clean
  }
  std::vector<int32_t> ids;
  for (const auto& s : tokens) ids.push_back(token_id(s));
  return ids;
}

int32_t Tokenizer::token_id(std::string_view token) const {
  const auto it = token_to_id_.find(token);
  return it == token_to_id_.end() ? -1 : it->second;
}

std::string Tokenizer::token_str(int32_t id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("Tokenizer::token_str: token id " + std::to_string(id) +
                            " is outside the vocabulary of " + std::to_string(vocab_size()));
  return vocab_[id];
}

std::string Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("Tokenizer::token_bytes: token id " + std::to_string(id) +
                            " is outside the vocabulary of " + std::to_string(vocab_size()));
  return bytes_[id];
}

// Applies merges to one word, always the lowest-rank (earliest learned) pair first, at every
// place it occurs, exactly as the merges were applied during training.
std::vector<int32_t> Tokenizer::bpe(std::string_view word) const {
  std::vector<int32_t> ids;
  ids.reserve(word.size());
  for (const char c : word) {
    const auto b = static_cast<unsigned char>(c);
    if (byte_id_[b] < 0) {
      static const char* hex = "0123456789ABCDEF";
      throw std::runtime_error(
          std::string("Tokenizer::encode: the vocabulary has no token for byte 0x") + hex[b >> 4] +
          hex[b & 15] + ", so this text cannot be encoded");
    }
    ids.push_back(byte_id_[b]);
  }
  while (ids.size() >= 2) {
    MergeResult best{INT32_MAX, -1};
    uint64_t best_key = 0;
    for (size_t i = 0; i + 1 < ids.size(); ++i) {
      const uint64_t key = pair_key(ids[i], ids[i + 1]);
      const auto it = merge_of_.find(key);
      if (it != merge_of_.end() && it->second.rank < best.rank) {
        best = it->second;
        best_key = key;
      }
    }
    if (best.id < 0) break;
    size_t w = 0;
    for (size_t i = 0; i < ids.size();) {
      if (i + 1 < ids.size() && pair_key(ids[i], ids[i + 1]) == best_key) {
        ids[w++] = best.id;
        i += 2;
      } else {
        ids[w++] = ids[i++];
      }
    }
    ids.resize(w);
  }
  return ids;
}

void Tokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  constexpr size_t kMaxCachedWord = 64;   // long words are rare; don't let them fill memory
  constexpr size_t kMaxCacheEntries = 1 << 18;
  if (word.size() <= kMaxCachedWord) {
    std::lock_guard<std::mutex> lock(cache_.mu);
    const auto it = cache_.ids.find(word);
    if (it != cache_.ids.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids = bpe(word);
  out.insert(out.end(), ids.begin(), ids.end());
  if (word.size() <= kMaxCachedWord) {
    std::lock_guard<std::mutex> lock(cache_.mu);
    if (cache_.ids.size() >= kMaxCacheEntries) cache_.ids.clear();
    cache_.ids.emplace(std::string(word), std::move(ids));
  }
}

void Tokenizer::encode_ordinary(std::string_view text, std::vector<int32_t>& out) const {
  for_each_pretoken(text, [&](std::string_view word) { encode_word(word, out); });
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3);
  // Next place each special token occurs at or after pos; refreshed only once passed, so
  // a special token that never occurs costs one search, not one per match of another.
  std::vector<size_t> next(specials_.size());
  for (size_t s = 0; s < specials_.size(); ++s) next[s] = text.find(specials_[s]);
  size_t pos = 0;
  while (true) {
    size_t best = std::string_view::npos, best_s = 0;
    for (size_t s = 0; s < specials_.size(); ++s) {
      if (next[s] < pos) next[s] = text.find(specials_[s], pos);
      const bool longer = next[s] == best && best != std::string_view::npos &&
                          specials_[s].size() > specials_[best_s].size();
      if (next[s] < best || longer) {
        best = next[s];
        best_s = s;
      }
    }
    if (best == std::string_view::npos) {
      encode_ordinary(text.substr(pos), out);
      return out;
    }
    encode_ordinary(text.substr(pos, best - pos), out);
    out.push_back(token_id(specials_[best_s]));
    pos = best + specials_[best_s].size();
  }
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const { return valid_utf8(decode_bytes(ids)); }

std::string Tokenizer::decode_bytes(const std::vector<int32_t>& ids) const {
  std::string text;
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw std::out_of_range("Tokenizer::decode: token id " + std::to_string(id) +
                              " is outside the vocabulary of " + std::to_string(vocab_size()));
    text += bytes_[id];
  }
  return text;
}

}  // namespace ds
