// Token streams, the document-level train/val split, and batching (see dataset.hpp).
#include "common/dataset.hpp"

#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "common/corpus.hpp"

namespace ds {

const char* split_name(Split s) { return s == Split::Train ? "train" : "val"; }

std::vector<bool> val_document_mask(size_t n_docs, double val_fraction, uint64_t seed) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0))
    throw std::runtime_error("TokenDataset: val_fraction must be in [0, 1) (got " +
                             (std::ostringstream() << val_fraction).str() + ")");
  auto n_val = static_cast<size_t>(std::llround(val_fraction * static_cast<double>(n_docs)));
  if (val_fraction > 0.0 && n_val == 0 && n_docs >= 2) n_val = 1;
  if (n_docs > 0 && n_val >= n_docs) n_val = n_docs - 1;   // training needs a document too
  // Fisher-Yates shuffle of the indices; the first n_val go to validation.
  std::vector<size_t> order(n_docs);
  std::iota(order.begin(), order.end(), size_t{0});
  Rng rng(seed);
  for (size_t i = n_docs; i > 1; --i)
    std::swap(order[i - 1], order[static_cast<size_t>(rng.randint(static_cast<int64_t>(i)))]);
  std::vector<bool> is_val(n_docs, false);
  for (size_t k = 0; k < n_val; ++k) is_val[order[k]] = true;
  return is_val;
}

TokenDataset::TokenDataset(const std::vector<std::string>& docs, const Tokenizer& tok,
                           double val_fraction, uint64_t seed) {
  if (docs.empty())
    throw std::runtime_error("TokenDataset: there are no documents to build it from");
  const int32_t eot = tok.eot_id();
  if (eot < 0)
    throw std::runtime_error(
        "TokenDataset: the tokenizer has no <|endoftext|> token to end documents with");
  const std::vector<bool> is_val = val_document_mask(docs.size(), val_fraction, seed);
  for (size_t d = 0; d < docs.size(); ++d) {
    std::vector<int32_t>& stream = is_val[d] ? val_ : train_;
    const std::vector<int32_t> ids = tok.encode(docs[d]);
    stream.insert(stream.end(), ids.begin(), ids.end());
    stream.push_back(eot);
    ++(is_val[d] ? val_docs_ : train_docs_);
  }
}

TokenDataset::TokenDataset(std::vector<int32_t> train_tokens, std::vector<int32_t> val_tokens)
    : train_(std::move(train_tokens)), val_(std::move(val_tokens)) {}

void TokenDataset::check_window(Split s, int64_t batch_size, int64_t seq_len,
                                const char* who) const {
  if (batch_size <= 0 || seq_len <= 0)
    throw std::runtime_error(std::string(who) + ": batch_size and seq_len must be positive (got " +
                             std::to_string(batch_size) + " and " + std::to_string(seq_len) + ")");
  if (num_tokens(s) >= seq_len + 1) return;
  std::string why = std::string(who) + ": the " + split_name(s) + " split has " + std::to_string(num_tokens(s)) +
                    " tokens, too few for seq_len " + std::to_string(seq_len) + " (at least " + std::to_string(seq_len + 1) + " are needed)";
  const int64_t docs = train_docs_ + val_docs_;
  if (docs > 0)   // made from documents: say how they were split, and what changes that
    why += "; the text was split into " + std::to_string(docs) + " document" + (docs == 1 ? "" : "s") +
           " (at <|endoftext|> when the text holds one, else at blank lines), and whole documents go to the train or val split (" +
           std::to_string(train_docs_) + " and " + std::to_string(val_docs_) +
           "): separate the text into more documents with blank lines, or use a shorter --seq";
  throw std::runtime_error(why);
}

Batch TokenDataset::make_batch(Split s, const std::vector<int64_t>& starts, int64_t seq_len) const {
  const std::vector<int32_t>& stream = tokens(s);
  const auto rows = static_cast<int64_t>(starts.size());
  std::vector<int32_t> inputs(static_cast<size_t>(rows * seq_len));
  std::vector<int32_t> targets(inputs.size());
  for (int64_t b = 0; b < rows; ++b) {
    const int32_t* window = stream.data() + starts[b];
    std::copy(window, window + seq_len, inputs.begin() + b * seq_len);
    std::copy(window + 1, window + 1 + seq_len, targets.begin() + b * seq_len);
  }
  return {IntTensor(std::move(inputs), {rows, seq_len}),
          IntTensor(std::move(targets), {rows, seq_len})};
}

Batch TokenDataset::sample_batch(Split s, int64_t batch_size, int64_t seq_len, Rng& rng) const {
  check_window(s, batch_size, seq_len, "TokenDataset::sample_batch");
  const int64_t n_starts = num_tokens(s) - seq_len;   // a window needs seq_len + 1 tokens
  std::vector<int64_t> starts(static_cast<size_t>(batch_size));
  for (auto& start : starts) start = rng.randint(n_starts);
  return make_batch(s, starts, seq_len);
}

std::vector<Batch> TokenDataset::eval_batches(Split s, int64_t batch_size, int64_t seq_len,
                                              int64_t max_batches) const {
  check_window(s, batch_size, seq_len, "TokenDataset::eval_batches");
  int64_t n_windows = (num_tokens(s) - 1) / seq_len;
  if (max_batches > 0) n_windows = std::min(n_windows, max_batches * batch_size);
  std::vector<Batch> batches;
  for (int64_t first = 0; first < n_windows; first += batch_size) {
    std::vector<int64_t> starts;
    for (int64_t w = first; w < std::min(n_windows, first + batch_size); ++w)
      starts.push_back(w * seq_len);
    batches.push_back(make_batch(s, starts, seq_len));
  }
  return batches;
}

std::vector<std::string> load_or_generate_documents(const std::string& data_path,
                                                    size_t corpus_bytes, uint64_t seed) {
  if (!data_path.empty()) return corpus::load_documents(data_path);
  return corpus::split_documents(corpus::generate_text(seed, corpus_bytes));
}

CorpusData default_corpus_dataset(size_t corpus_bytes, int vocab_size, uint64_t seed,
                                  double val_fraction) {
  return corpus_dataset(load_or_generate_documents("", corpus_bytes, seed), vocab_size, seed, val_fraction);
}

CorpusData corpus_dataset(const std::vector<std::string>& docs, int vocab_size, uint64_t seed, double val_fraction) {
  // The tokenizer learns from training documents only, so nothing about the validation
  // text leaks into the model through its vocabulary.
  const std::vector<bool> is_val = val_document_mask(docs.size(), val_fraction, seed);
  std::vector<std::string> train_docs;
  for (size_t d = 0; d < docs.size(); ++d)
    if (!is_val[d]) train_docs.push_back(docs[d]);
  Tokenizer tok = Tokenizer::train(train_docs, vocab_size);
  TokenDataset data(docs, tok, val_fraction, seed);
  return {std::move(tok), std::move(data)};
}

TokenDataset default_corpus_dataset(size_t corpus_bytes, const Tokenizer& tok, uint64_t seed,
                                    double val_fraction) {
  return TokenDataset(load_or_generate_documents("", corpus_bytes, seed), tok, val_fraction, seed);
}

CorpusData program_corpus(bool quick, uint64_t seed, const std::string& data_path) {
  return corpus_dataset(load_or_generate_documents(data_path, quick ? 200000 : 1000000, seed), quick ? 512 : 1024, seed);
}

}  // namespace ds
