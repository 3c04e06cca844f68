// Turning text into training batches for a next-token-prediction language model.
//
// Every document is encoded and followed by <|endoftext|>, and all of them are
// concatenated into one long token stream, as GPT-2 and DeepSeek pretraining do: the model
// learns where a document ends, and no token is wasted on padding. A batch is B random
// windows of T+1 consecutive tokens: inputs are the first T, targets the last T (each
// position's target is the token that follows it).
//
// The train/validation split is by whole document (a seeded shuffle), so the validation
// loss measures text the model never saw, not the second half of a story it did see.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rng.hpp"
#include "common/tensor.hpp"
#include "common/tokenizer.hpp"

namespace ds {

enum class Split { Train, Val };
const char* split_name(Split s);   // "train" / "val"

struct Batch {
  IntTensor inputs;    // [B, T] token ids
  IntTensor targets;   // [B, T] targets[b][t] == the token after inputs[b][t]
};

// Which documents go to validation: round(val_fraction * n_docs) of them chosen by a seeded
// shuffle (at least one when val_fraction > 0 and there are two or more documents, and
// never all of them). val_fraction must be in [0, 1).
std::vector<bool> val_document_mask(size_t n_docs, double val_fraction, uint64_t seed);

class TokenDataset {
 public:
  // Encodes docs with tok; needs the tokenizer's <|endoftext|> token between documents.
  TokenDataset(const std::vector<std::string>& docs, const Tokenizer& tok,
               double val_fraction = 0.05, uint64_t seed = 0);
  // From ready-made token streams (e.g. a dataset prepared elsewhere); num_documents is 0.
  TokenDataset(std::vector<int32_t> train_tokens, std::vector<int32_t> val_tokens);

  const std::vector<int32_t>& tokens(Split s) const { return s == Split::Train ? train_ : val_; }
  int64_t num_tokens(Split s) const { return static_cast<int64_t>(tokens(s).size()); }
  int64_t num_documents(Split s) const { return s == Split::Train ? train_docs_ : val_docs_; }

  // batch_size random windows; the same rng state gives the same batch.
  Batch sample_batch(Split s, int64_t batch_size, int64_t seq_len, Rng& rng) const;

  // The split cut into consecutive windows (window w starts at token w * seq_len, so each
  // token is predicted once), grouped batch_size at a time; the last batch may be smaller.
  // At most max_batches batches (all of them if max_batches <= 0). Always the same batches,
  // so validation losses of different runs and steps are comparable.
  std::vector<Batch> eval_batches(Split s, int64_t batch_size, int64_t seq_len,
                                  int64_t max_batches = 0) const;

 private:
  void check_window(Split s, int64_t batch_size, int64_t seq_len, const char* who) const;
  Batch make_batch(Split s, const std::vector<int64_t>& starts, int64_t seq_len) const;

  std::vector<int32_t> train_, val_;
  int64_t train_docs_ = 0, val_docs_ = 0;
};

// The documents of --data FILE (see corpus::load_documents), or, when data_path is empty,
// about corpus_bytes of the embedded procedural corpus generated from seed.
std::vector<std::string> load_or_generate_documents(const std::string& data_path,
                                                    size_t corpus_bytes, uint64_t seed);

struct CorpusData {
  Tokenizer tokenizer;
  TokenDataset dataset;
};

// About corpus_bytes of the procedural corpus, a tokenizer of vocab_size trained on its
// training documents only, and the dataset. Deterministic in seed.
CorpusData default_corpus_dataset(size_t corpus_bytes, int vocab_size = 1024, uint64_t seed = 0,
                                  double val_fraction = 0.05);
// The same for any documents (e.g. those of --data FILE).
CorpusData corpus_dataset(const std::vector<std::string>& docs, int vocab_size, uint64_t seed = 0,
                          double val_fraction = 0.05);
// The chapter programs' data: 1 MB of the procedural corpus (200 KB for --quick), or the
// documents of data_path (--data FILE), with a 1024-token BPE trained on them (512 for --quick).
CorpusData program_corpus(bool quick, uint64_t seed, const std::string& data_path = "");
// The same with a tokenizer given (e.g. loaded from a checkpoint's tokenizer.json).
TokenDataset default_corpus_dataset(size_t corpus_bytes, const Tokenizer& tok, uint64_t seed = 0,
                                    double val_fraction = 0.05);

}  // namespace ds
