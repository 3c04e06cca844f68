// Byte-level BPE tokenizer, the kind GPT-2 introduced and DeepSeek-V3 still uses.
//
// Why bytes: every string is a sequence of bytes, so a vocabulary that starts from the 256
// byte values can encode ANY text (Chinese, emoji, invalid UTF-8) with no "unknown" token.
// Why BPE: frequent byte sequences (" the", "ing") are merged into single tokens, so common
// text needs far fewer tokens than bytes, and the model sees longer context for the same cost.
//
// Training (tokenizer_train.cpp) learns an ordered list of merges: "the most frequent
// adjacent pair of tokens becomes a new token", repeated until the vocabulary is full.
// Encoding (tokenizer.cpp) first cuts out the added tokens written literally in the text
// ("<|endoftext|>", "<｜User｜>"), splits the rest into pieces with the file's pre-tokenizer
// (common/pretokenizer.hpp: GPT-2's regex, or DeepSeek-V3's three Splits), turns each piece into
// byte tokens and applies the merges in the order they were learned (rank).
//
// Token strings are written with GPT-2's bytes_to_unicode map so every byte is a printable
// character: a space shows as 'Ġ', a newline as 'Ċ'. So the token " the" is spelled "Ġthe".
// The files this class reads and writes are Hugging Face's tokenizer.json and GPT-2's
// vocab.json + merges.txt, so tokens can be compared with the Python tools one to one.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/pretokenizer.hpp"

namespace ds {

// GPT-2's map from each byte to a printable Unicode character (as UTF-8). Printable ASCII
// and Latin-1 bytes map to themselves; the other 68 bytes map to U+0100 and up.
const std::array<std::string, 256>& bytes_to_unicode();

// GPT-2's pre-tokenization (kGpt2Pattern): contractions ('s 't 're 've 'm 'll 'd), runs of
// letters, of digits and of other symbols (each with an optional leading space), and
// whitespace. The pieces cover the text exactly. Tokenizer::train learns on these pieces.
std::vector<std::string_view> pretokenize(std::string_view text);

// A token of tokenizer.json's added_tokens: matched literally in text before the pre-tokenizer
// runs, and decoded to its literal content. lstrip/rstrip: the match also takes the whitespace
// on its left/right. normalized: matched after the normalizer (which this reader only accepts
// as the identity) rather than before, so it is looked for after the others.
struct AddedToken {
  std::string content;
  bool special = true, lstrip = false, rstrip = false, normalized = false;
};

class Tokenizer {
 public:
  Tokenizer() = default;   // an empty tokenizer; use train() or load()

  // Learns merges on docs until the vocabulary (256 bytes + merges + special tokens) has
  // vocab_size tokens, or until no pair is left to merge. Special tokens get the last ids.
  static Tokenizer train(const std::vector<std::string>& docs, int vocab_size,
                         const std::vector<std::string>& special_tokens = {"<|endoftext|>"});

  // Hugging Face tokenizer.json (byte-level BPE). save() writes path + ".tmp" then renames.
  // load() honours the parts GPT-2's and DeepSeek's files use: normalizer null or an empty
  // Sequence; pre_tokenizer (pretokenizer.hpp); added_tokens with special, lstrip, rstrip,
  // normalized; the BPE flags ignore_merges and byte_fallback; post_processor ByteLevel or
  // TemplateProcessing; decoder ByteLevel. Anything else is refused in one sentence naming it.
  // A key that is absent takes GPT-2's value (ByteLevel, no normalizer, no post-processor).
  static Tokenizer load(const std::string& path);
  void save(const std::string& path) const;

  // GPT-2's vocab.json + merges.txt pair. Tokens listed in special_tokens that the vocab
  // holds (GPT-2 has "<|endoftext|>" = 50256) are matched literally in encode().
  static Tokenizer load_gpt2(const std::string& vocab_json, const std::string& merges_txt,
                             const std::vector<std::string>& special_tokens = {"<|endoftext|>"});

  // Appends special tokens with the next free ids, as Hugging Face's add_special_tokens does
  // (post-training's "<think>", "</think>", chat role markers): encode() matches them literally
  // and save() lists them in added_tokens. Returns their ids; a token that is already special
  // keeps its id, one that is an ordinary vocabulary token is an error.
  std::vector<int32_t> add_special_tokens(const std::vector<std::string>& tokens);

  // Special tokens written literally in text (e.g. "<|endoftext|>") become their single id.
  std::vector<int32_t> encode(std::string_view text) const;
  // With add_special_tokens, the post-processor's template adds its tokens around the text
  // (DeepSeek-V3: <｜begin▁of▁sentence｜> first), as Hugging Face's tokenizer(text) does.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const;
  // The template of add_special_tokens: ids before and after the text (TemplateProcessing's
  // "single", or a tokenizer_config.json's add_bos_token / add_eos_token).
  void set_template(std::vector<int32_t> before, std::vector<int32_t> after);
  const PreTokenizer& pre_tokenizer() const { return pre_; }
  // The same vocabulary and merges behind another pre-tokenizer (to measure what a split rule
  // buys); the ids it gives are no longer those the model was trained on.
  void set_pre_tokenizer(PreTokenizer pre);
  // The text of ids: the inverse of encode for UTF-8 text. Bytes that are not UTF-8 (a model can
  // emit half a character) become U+FFFD, as Hugging Face's decode does (common/utf8.hpp).
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string decode_bytes(const std::vector<int32_t>& ids) const;   // the raw bytes: encode's exact inverse

  int vocab_size() const { return static_cast<int>(vocab_.size()); }
  std::string token_str(int32_t id) const;        // vocab spelling, e.g. "Ġthe"
  std::string token_bytes(int32_t id) const;      // the raw bytes it stands for, e.g. " the"
  int32_t token_id(std::string_view token) const; // by vocab spelling; -1 if absent
  int32_t eot_id() const { return token_id("<|endoftext|>"); }   // -1 if absent
  // The contents of the added tokens (special or not), in the order they were added.
  const std::vector<std::string>& special_tokens() const { return specials_; }
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  bool is_added(int32_t id) const;   // an added token: matched and decoded literally
  // Merges in rank order, as pairs of token ids.
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;
  struct Trie;   // the added tokens' spellings, for leftmost-longest matching
  struct MergeResult {
    int32_t rank;
    int32_t id;
  };
  // Remembers how each word encodes; the same few thousand words make up most text. A copy
  // of a Tokenizer starts with an empty cache (a mutex cannot be copied).
  struct WordCache {
    std::mutex mu;
    std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> ids;
    WordCache() = default;
    WordCache(const WordCache&) {}
    WordCache& operator=(const WordCache&) { return *this; }
  };

  // The single place a tokenizer is assembled and checked; `where` starts each error sentence.
  static Tokenizer from_parts(std::vector<std::string> vocab,
                              const std::vector<std::pair<std::string, std::string>>& merges,
                              const std::vector<AddedToken>& added, const std::string& where);
  static std::vector<AddedToken> as_added(const std::vector<std::string>& specials);
  void encode_added(std::string_view text, bool normalized_pass, std::vector<int32_t>& out) const;
  void encode_ordinary(std::string_view text, std::vector<int32_t>& out) const;
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  std::vector<int32_t> bpe(std::string_view word) const;

  std::vector<std::string> vocab_;          // id -> spelling (byte-level, or special content)
  std::vector<std::string> bytes_;          // id -> raw bytes
  TokenMap token_to_id_;
  std::array<int32_t, 256> byte_id_{};      // byte value -> id of its single-byte token
  std::vector<std::pair<int32_t, int32_t>> merges_;
  std::unordered_map<uint64_t, MergeResult> merge_of_;   // (left << 32 | right) -> result
  std::vector<std::string> specials_;
  std::vector<AddedToken> added_;                  // parallel to specials_
  std::vector<uint8_t> is_added_;                  // id -> 1 for an added token
  std::shared_ptr<const Trie> raw_trie_, normalized_trie_;
  PreTokenizer pre_ = PreTokenizer::gpt2();
  bool ignore_merges_ = false, byte_fallback_ = false;
  int32_t unk_id_ = -1;                            // the BPE model's unk_token, for a byte with no token
  std::string normalizer_json_ = "null", post_processor_json_ = "null";   // written back by save()
  std::vector<int32_t> template_before_, template_after_;
  mutable WordCache cache_;
};

}  // namespace ds
