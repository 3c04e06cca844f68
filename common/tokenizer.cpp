// Byte-level BPE: the byte <-> character map, the pre-tokenizer, and encode/decode.
// Training lives in tokenizer_train.cpp, the file formats in tokenizer_io.cpp.
#include "common/tokenizer.hpp"

#include <algorithm>
#include <climits>
#include <deque>
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

// Whitespace as Rust's char::is_whitespace sees it (Unicode White_Space), for lstrip/rstrip.
bool is_white_space(uint32_t cp) {
  return (cp >= 9 && cp <= 13) || cp == 32 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// The code point that starts at text[i] and its length in bytes (text is valid UTF-8 here: the
// pre-tokenizer's regex has checked it, or it is an added token's content).
std::pair<uint32_t, size_t> code_point_at(std::string_view t, size_t i) {
  const auto c = static_cast<unsigned char>(t[i]);
  const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  uint32_t cp = n == 1 ? c : c & (0x7F >> n);
  for (size_t k = 1; k < n && i + k < t.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(t[i + k]) & 0x3Fu);
  return {cp, n};
}

}  // namespace

struct Tokenizer::Trie {
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;
    int32_t added = -1;   // index into added_ when a token ends here
  };
  std::vector<Node> nodes = std::vector<Node>(1);
  std::array<bool, 256> first{};

  void insert(std::string_view s, int32_t index) {
    int32_t at = 0;
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      int32_t child = -1;
      for (const auto& [b, n] : nodes[at].next)
        if (b == c) child = n;
      if (child < 0) {
        child = static_cast<int32_t>(nodes.size());
        nodes[at].next.emplace_back(c, child);
        nodes.emplace_back();
      }
      at = child;
    }
    nodes[at].added = index;
    first[static_cast<unsigned char>(s[0])] = true;
  }
  // The longest added token starting at text[pos]: (index into added_, length), index -1 if none.
  std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos) const {
    std::pair<int32_t, size_t> best{-1, 0};
    int32_t at = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      int32_t child = -1;
      for (const auto& [b, n] : nodes[at].next)
        if (b == static_cast<unsigned char>(text[i])) child = n;
      if (child < 0) break;
      at = child;
      if (nodes[at].added >= 0) best = {nodes[at].added, i + 1 - pos};
    }
    return best;
  }
};

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
  static const PreTokenizer gpt2 = PreTokenizer::gpt2();
  std::vector<std::string_view> pieces;
  std::deque<std::string> storage;   // stays empty: GPT-2's adds no prefix space
  gpt2.split(text, pieces, storage);
  return pieces;
}


std::vector<AddedToken> Tokenizer::as_added(const std::vector<std::string>& specials) {
  std::vector<AddedToken> added;
  for (const auto& s : specials) added.push_back({s});
  return added;
}

Tokenizer Tokenizer::from_parts(std::vector<std::string> vocab,
                                const std::vector<std::pair<std::string, std::string>>& merges,
                                const std::vector<AddedToken>& added, const std::string& where) {
  auto fail = [&](const std::string& what) { throw std::runtime_error(where + ": " + what); };
  Tokenizer t;
  t.vocab_ = std::move(vocab);
  t.added_ = added;
  for (const auto& a : added) t.specials_.push_back(a.content);
  const auto n = static_cast<int32_t>(t.vocab_.size());
  for (int32_t id = 0; id < n; ++id) {
    auto [it, fresh] = t.token_to_id_.emplace(t.vocab_[id], id);
    if (!fresh)
      fail("the token '" + t.vocab_[id] + "' appears twice (ids " + std::to_string(it->second) +
           " and " + std::to_string(id) + ")");
  }
  t.is_added_.assign(static_cast<size_t>(n), 0);
  auto raw = std::make_shared<Trie>(), normalized = std::make_shared<Trie>();
  for (size_t i = 0; i < added.size(); ++i) {
    const std::string& s = added[i].content;
    if (s.empty()) fail("a special token is the empty string");
    const int32_t id = t.token_id(s);
    if (id < 0) fail("the special token '" + s + "' is not in the vocabulary");
    if (t.is_added_[id]) fail("the special token '" + s + "' is listed twice");
    t.is_added_[id] = 1;
    (added[i].normalized ? normalized : raw)->insert(s, static_cast<int32_t>(i));
  }
  if (raw->nodes.size() > 1) t.raw_trie_ = raw;
  if (normalized->nodes.size() > 1) t.normalized_trie_ = normalized;
  t.bytes_.resize(n);
  t.byte_id_.fill(-1);
  for (int32_t id = 0; id < n; ++id) {
    if (t.is_added_[id]) {
      t.bytes_[id] = t.vocab_[id];   // added tokens decode to their literal text
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
    // An added token decodes to its literal text, not to the bytes it spells, so a merge that
    // built one would make decode(encode(s)) != s (found by fuzz/).
    if (t.is_added_[merged]) fail(label + " makes the special token '" + left + right + "'; special tokens are only matched literally");
    t.merges_.emplace_back(a, b);
    t.merge_of_.emplace(pair_key(a, b), MergeResult{static_cast<int32_t>(rank), merged});
  }
  return t;
}

std::vector<int32_t> Tokenizer::add_special_tokens(const std::vector<std::string>& tokens) {
  std::vector<std::string> vocab = vocab_;
  std::vector<AddedToken> added = added_;
  for (const auto& s : tokens) {
    if (s.empty()) throw std::runtime_error("Tokenizer::add_special_tokens: a special token is the empty string");
    if (std::find(specials_.begin(), specials_.end(), s) != specials_.end()) continue;
    if (std::any_of(added.begin(), added.end(), [&](const AddedToken& a) { return a.content == s; })) continue;
    if (token_id(s) >= 0) throw std::runtime_error("Tokenizer::add_special_tokens: '" + s + "' is already an ordinary token of the vocabulary");
    vocab.push_back(s);
    added.push_back({s});
  }
  std::vector<std::pair<std::string, std::string>> merges;
  for (const auto& [a, b] : merges_) merges.emplace_back(vocab_[a], vocab_[b]);
  Tokenizer t = from_parts(std::move(vocab), merges, added, "Tokenizer::add_special_tokens");
  t.pre_ = pre_;   // what the file said besides the vocabulary stays
  t.ignore_merges_ = ignore_merges_;
  t.byte_fallback_ = byte_fallback_;
  t.unk_id_ = unk_id_;
  t.normalizer_json_ = normalizer_json_;
  t.post_processor_json_ = post_processor_json_;
  t.template_before_ = template_before_;
  t.template_after_ = template_after_;
  *this = std::move(t);
  {
    std::lock_guard<std::mutex> lock(cache_.mu);
    cache_.ids.clear();   // the assignment keeps the word cache; it would still be right (merges are unchanged), but start clean
  }
  std::vector<int32_t> ids;
  for (const auto& s : tokens) ids.push_back(token_id(s));
  return ids;
}

bool Tokenizer::is_added(int32_t id) const { return id >= 0 && id < vocab_size() && is_added_[static_cast<size_t>(id)]; }

void Tokenizer::set_pre_tokenizer(PreTokenizer pre) {
  pre_ = std::move(pre);
  std::lock_guard<std::mutex> lock(cache_.mu);
  cache_.ids.clear();   // pieces cut differently are other words
}

void Tokenizer::set_template(std::vector<int32_t> before, std::vector<int32_t> after) {
  for (const int32_t id : before) token_str(id);   // throws for an id outside the vocabulary
  for (const int32_t id : after) token_str(id);
  template_before_ = std::move(before);
  template_after_ = std::move(after);
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
    int32_t id = byte_id_[b];
    static const char* hex = "0123456789ABCDEF";
    if (id < 0 && byte_fallback_) id = token_id(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");   // the BPE model's byte_fallback
    if (id < 0) id = unk_id_;
    if (id < 0)
      throw std::runtime_error(
          std::string("Tokenizer::encode: the vocabulary has no token for byte 0x") + hex[b >> 4] +
          hex[b & 15] + ", so this text cannot be encoded");
    ids.push_back(id);
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
  if (ignore_merges_) {   // the BPE model's ignore_merges: a piece that is a token is that token
    std::string spelled;
    for (const char c : word) spelled += bytes_to_unicode()[static_cast<unsigned char>(c)];
    const int32_t id = token_id(spelled);
    if (id >= 0 && !is_added(id)) {
      out.push_back(id);
      return;
    }
  }
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
  std::vector<std::string_view> pieces;
  std::deque<std::string> storage;
  pre_.split(text, pieces, storage);
  for (const std::string_view piece : pieces) encode_word(piece, out);
}

// Hugging Face's AddedVocabulary: the added tokens that are not `normalized` are cut out of the
// raw text first, then (after the normalizer, the identity here) the normalized ones out of
// what is left; each time the leftmost match wins, the longest among those starting there.
void Tokenizer::encode_added(std::string_view text, bool normalized_pass, std::vector<int32_t>& out) const {
  const Trie* trie = normalized_pass ? normalized_trie_.get() : raw_trie_.get();
  const auto rest = [&](std::string_view part) {
    if (normalized_pass) encode_ordinary(part, out);
    else encode_added(part, true, out);
  };
  size_t done = 0;   // text[0, done) is encoded
  for (size_t pos = 0; trie && pos < text.size();) {
    if (!trie->first[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto [index, length] = trie->longest_at(text, pos);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& a = added_[static_cast<size_t>(index)];
    size_t start = pos, stop = pos + length;
    if (a.lstrip) {   // take the whitespace before it, back to what is already encoded
      size_t b = done;
      for (size_t i = done; i < start;) {
        const auto [cp, n] = code_point_at(text, i);
        i += n;
        if (!is_white_space(cp)) b = i;
      }
      start = b;
    }
    if (a.rstrip)
      while (stop < text.size()) {
        const auto [cp, n] = code_point_at(text, stop);
        if (!is_white_space(cp)) break;
        stop += n;
      }
    if (done < start) rest(text.substr(done, start - done));
    out.push_back(token_id(a.content));
    done = pos = stop;
  }
  if (done < text.size()) rest(text.substr(done));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const { return encode(text, false); }

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special_tokens) out = template_before_;
  encode_added(text, false, out);
  if (add_special_tokens) out.insert(out.end(), template_after_.begin(), template_after_.end());
  return out;
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
