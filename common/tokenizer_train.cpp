// Training a byte-level BPE tokenizer: start from the 256 byte tokens and repeatedly turn
// the most frequent adjacent pair of tokens into a new token, until the vocabulary is full.
//
// Doing this naively (recount every pair of the whole corpus after each merge) is far too
// slow. Two observations make it fast, as in Hugging Face's trainer:
//  1. Text repeats words. Pre-tokenize once and keep each distinct word with its count:
//     a few MB of stories are only a few thousand distinct words.
//  2. A merge only changes the words that contain the merged pair. Keep, for every pair,
//     its total count and the list of words it occurs in, and update both incrementally;
//     a max-heap with lazy deletion then gives the next most frequent pair.
#include <algorithm>
#include <queue>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "common/tokenizer.hpp"

namespace ds {
namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t left_of(uint64_t key) { return static_cast<int32_t>(key >> 32); }
int32_t right_of(uint64_t key) { return static_cast<int32_t>(key & 0xFFFFFFFFu); }

struct Candidate {
  int64_t count;
  uint64_t pair;
};
// More frequent first; equal counts go to the smaller (left, right) ids, so the result
// never depends on hash-map order and training is reproducible everywhere.
struct ComesLater {
  bool operator()(const Candidate& x, const Candidate& y) const {
    return x.count != y.count ? x.count < y.count : x.pair > y.pair;
  }
};

class PairCounts {
 public:
  void add_word(std::vector<int32_t> symbols, int64_t freq) {
    const auto w = static_cast<int32_t>(words_.size());
    for (size_t i = 0; i + 1 < symbols.size(); ++i)
      change(pair_key(symbols[i], symbols[i + 1]), freq, w);
    words_.push_back(std::move(symbols));
    freq_.push_back(freq);
  }

  // The most frequent pair still present; false when no pair is left.
  bool pop_best(uint64_t& pair) {
    push_touched();
    while (!heap_.empty()) {
      const Candidate c = heap_.top();
      heap_.pop();
      const auto it = count_.find(c.pair);
      if (it != count_.end() && it->second == c.count) {   // else a stale entry
        pair = c.pair;
        return true;
      }
    }
    return false;
  }

  // Replaces every occurrence of pair by new_id in the words that contain it. The pairs
  // around each occurrence change: (prev, a) becomes (prev, new), (b, next) becomes (new, next).
  void merge(uint64_t pair, int32_t new_id) {
    const int32_t a = left_of(pair), b = right_of(pair);
    const std::vector<int32_t> words = std::move(where_[pair]);
    where_.erase(pair);
    count_.erase(pair);
    merging_ = pair;
    for (const int32_t w : words) {
      std::vector<int32_t>& s = words_[w];
      const int64_t f = freq_[w];
      size_t out = 0;
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          if (out > 0) {   // s[out - 1] is the already-updated left neighbour
            change(pair_key(s[out - 1], a), -f, w);
            change(pair_key(s[out - 1], new_id), f, w);
          }
          if (i + 2 < s.size()) {
            change(pair_key(b, s[i + 2]), -f, w);
            change(pair_key(new_id, s[i + 2]), f, w);
          }
          s[out++] = new_id;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      s.resize(out);
    }
  }

 private:
  void change(uint64_t key, int64_t delta, int32_t word) {
    if (key == merging_) return;   // already removed from the counts; keep none negative
    count_[key] += delta;
    touched_.push_back(key);
    if (delta > 0) {
      std::vector<int32_t>& list = where_[key];
      if (list.empty() || list.back() != word) list.push_back(word);
    }
  }

  void push_touched() {
    std::sort(touched_.begin(), touched_.end());
    touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
    for (const uint64_t key : touched_) {
      const auto it = count_.find(key);
      if (it == count_.end()) continue;
      if (it->second > 0)
        heap_.push({it->second, key});
      else
        count_.erase(it);
    }
    touched_.clear();
  }

  std::vector<std::vector<int32_t>> words_;
  std::vector<int64_t> freq_;
  std::unordered_map<uint64_t, int64_t> count_;
  std::unordered_map<uint64_t, std::vector<int32_t>> where_;   // pair -> words holding it
  std::priority_queue<Candidate, std::vector<Candidate>, ComesLater> heap_;
  std::vector<uint64_t> touched_;
  uint64_t merging_ = UINT64_MAX;
};

// Distinct pre-tokenized words and how often each occurs. Special tokens written in the
// documents are cut out: they are never merged with the text around them.
std::vector<std::pair<std::string_view, int64_t>> count_words(
    const std::vector<std::string>& docs, const std::vector<std::string>& specials) {
  std::unordered_map<std::string_view, int64_t> counts;
  for (const std::string& doc : docs) {
    std::string_view rest = doc;
    while (!rest.empty()) {
      size_t cut = rest.size(), skip = 0;
      for (const auto& s : specials) {
        const size_t at = rest.find(s);
        if (at < cut) {
          cut = at;
          skip = s.size();
        }
      }
      for (const std::string_view w : pretokenize(rest.substr(0, cut))) ++counts[w];
      rest.remove_prefix(std::min(rest.size(), cut + skip));
    }
  }
  std::vector<std::pair<std::string_view, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());
  return sorted;
}

void check_train_args(int vocab_size, const std::vector<std::string>& specials) {
  const std::string where = "Tokenizer::train: ";
  if (vocab_size < 256 + static_cast<int>(specials.size()))
    throw std::runtime_error(where + "vocab_size " + std::to_string(vocab_size) +
                             " is smaller than the 256 byte tokens plus " +
                             std::to_string(specials.size()) + " special token(s)");
  std::unordered_set<std::string> seen;
  for (const auto& s : specials) {
    if (s.empty()) throw std::runtime_error(where + "a special token is the empty string");
    if (!seen.insert(s).second)
      throw std::runtime_error(where + "the special token '" + s + "' is listed twice");
  }
}

}  // namespace

Tokenizer Tokenizer::train(const std::vector<std::string>& docs, int vocab_size,
                           const std::vector<std::string>& special_tokens) {
  check_train_args(vocab_size, special_tokens);
  std::vector<std::string> vocab(bytes_to_unicode().begin(), bytes_to_unicode().end());
  std::unordered_map<std::string, int32_t> id_of;
  for (int32_t b = 0; b < 256; ++b) id_of.emplace(vocab[b], b);

  PairCounts pairs;
  for (const auto& [word, freq] : count_words(docs, special_tokens)) {
    std::vector<int32_t> symbols;   // the byte tokens: token id = byte value
    for (const char c : word) symbols.push_back(static_cast<unsigned char>(c));
    pairs.add_word(std::move(symbols), freq);
  }

  std::vector<std::pair<std::string, std::string>> merges;
  const size_t target = static_cast<size_t>(vocab_size) - special_tokens.size();
  uint64_t best;
  while (vocab.size() < target && pairs.pop_best(best)) {
    const std::string left = vocab[left_of(best)], right = vocab[right_of(best)];
    // Rarely two different merges spell the same string ("a"+"bc", "ab"+"c"); like
    // Hugging Face, the second one reuses the existing token.
    auto [it, fresh] = id_of.emplace(left + right, static_cast<int32_t>(vocab.size()));
    merges.emplace_back(left, right);
    if (fresh) vocab.push_back(it->first);
    pairs.merge(best, it->second);
  }
  vocab.insert(vocab.end(), special_tokens.begin(), special_tokens.end());
  return from_parts(std::move(vocab), merges, as_added(special_tokens), "Tokenizer::train");
}

}  // namespace ds
