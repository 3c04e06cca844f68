#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "common/corpus.hpp"
#include "common/dataset.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::error_of;

namespace {


struct Fixture {
  std::vector<std::string> docs = corpus::generate_documents(21, 200);
  Tokenizer tok = Tokenizer::train(docs, 320);
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

// The window of `stream` that the row starts with, or -1 if the row is not a window of it.
int64_t find_window(const std::vector<int32_t>& stream, const int32_t* row, int64_t len) {
  const auto it = std::search(stream.begin(), stream.end(), row, row + len);
  return it == stream.end() ? -1 : it - stream.begin();
}

}  // namespace

TEST_CASE("dataset: every document's tokens followed by <|endoftext|>, in one stream") {
  const auto& f = fixture();
  const TokenDataset data(f.docs, f.tok, 0.0);
  std::vector<int32_t> expect;
  for (const auto& d : f.docs) {
    const auto ids = f.tok.encode(d);
    expect.insert(expect.end(), ids.begin(), ids.end());
    expect.push_back(f.tok.eot_id());
  }
  CHECK(data.tokens(Split::Train) == expect);
  CHECK(data.num_tokens(Split::Val) == 0);
  CHECK(data.num_documents(Split::Train) == 200);
}

TEST_CASE("dataset: the train/val split is by document, seeded and deterministic") {
  const auto mask = val_document_mask(100, 0.05, 1);
  CHECK(std::count(mask.begin(), mask.end(), true) == 5);
  CHECK(val_document_mask(100, 0.05, 1) == mask);
  CHECK(val_document_mask(100, 0.05, 2) != mask);
  const auto n_val = [](size_t n, double fraction) {
    const auto m = val_document_mask(n, fraction, 0);
    return std::count(m.begin(), m.end(), true);
  };
  CHECK(n_val(2, 0.01) == 1);   // a tiny fraction still validates on one document
  CHECK(n_val(10, 0.99) == 9);   // and training always keeps one
  CHECK(n_val(1, 0.5) == 0);
  CHECK(error_of([] { val_document_mask(10, 1.0, 0); }) ==
        "TokenDataset: val_fraction must be in [0, 1) (got 1)");

  const auto& f = fixture();
  const TokenDataset data(f.docs, f.tok, 0.1, 7);
  CHECK(data.num_documents(Split::Val) == 20);
  CHECK(data.num_documents(Split::Train) == 180);
  const auto is_val = val_document_mask(200, 0.1, 7);
  std::vector<int32_t> val;
  for (size_t d = 0; d < f.docs.size(); ++d) {
    if (!is_val[d]) continue;
    const auto ids = f.tok.encode(f.docs[d]);
    val.insert(val.end(), ids.begin(), ids.end());
    val.push_back(f.tok.eot_id());
  }
  CHECK(data.tokens(Split::Val) == val);
  const auto eots = [&](Split s) {
    return std::count(data.tokens(s).begin(), data.tokens(s).end(), f.tok.eot_id());
  };
  CHECK(eots(Split::Train) == 180);
  CHECK(eots(Split::Val) == 20);
}

TEST_CASE("dataset: sample_batch gives random windows with targets shifted by one") {
  const auto& f = fixture();
  const TokenDataset data(f.docs, f.tok, 0.1, 7);
  Rng rng(3);
  const Batch b = data.sample_batch(Split::Train, 4, 16, rng);
  CHECK(b.inputs.shape == Shape{4, 16});
  CHECK(b.targets.shape == Shape{4, 16});
  const auto& stream = data.tokens(Split::Train);
  std::set<int64_t> starts;
  for (int64_t r = 0; r < 4; ++r) {
    const int32_t* in = b.inputs.data.data() + r * 16;
    const int32_t* tg = b.targets.data.data() + r * 16;
    CHECK(std::equal(in + 1, in + 16, tg));   // targets[t] == inputs[t + 1]
    const int64_t at = find_window(stream, in, 16);
    REQUIRE(at >= 0);
    CHECK(stream[at + 16] == tg[15]);   // the last target is the token after the window
    starts.insert(at);
  }
  CHECK(starts.size() > 1);
  Rng same(3);
  CHECK(data.sample_batch(Split::Train, 4, 16, same).inputs.data == b.inputs.data);
  CHECK(data.sample_batch(Split::Train, 4, 16, rng).inputs.data != b.inputs.data);
  const Batch v = data.sample_batch(Split::Val, 2, 8, rng);
  CHECK(find_window(data.tokens(Split::Val), v.inputs.data.data(), 8) >= 0);
}

TEST_CASE("dataset: eval_batches are fixed consecutive windows") {
  const auto& f = fixture();
  const TokenDataset data(f.docs, f.tok, 0.1, 7);
  const auto& stream = data.tokens(Split::Val);
  const int64_t T = 32, B = 3;
  const auto all = data.eval_batches(Split::Val, B, T);
  const int64_t windows = (data.num_tokens(Split::Val) - 1) / T;
  CHECK(static_cast<int64_t>(all.size()) == (windows + B - 1) / B);
  int64_t w = 0;
  for (const Batch& b : all) {
    for (int64_t r = 0; r < b.inputs.size(0); ++r, ++w) {
      CHECK(std::equal(stream.begin() + w * T, stream.begin() + (w + 1) * T,
                       b.inputs.data.begin() + r * T));
      CHECK(std::equal(stream.begin() + w * T + 1, stream.begin() + (w + 1) * T + 1,
                       b.targets.data.begin() + r * T));
    }
  }
  CHECK(w == windows);
  CHECK(all.back().inputs.size(0) == (windows % B == 0 ? B : windows % B));
  const auto two = data.eval_batches(Split::Val, B, T, 2);
  REQUIRE(two.size() == 2);
  CHECK(two[1].inputs.data == all[1].inputs.data);
}

TEST_CASE("dataset: a split too short for the window gives one clear sentence") {
  const TokenDataset data({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {1, 2, 3});
  Rng rng(1);
  CHECK(error_of([&] { data.sample_batch(Split::Val, 2, 8, rng); }) ==
        "TokenDataset::sample_batch: the val split has 3 tokens, too few for seq_len 8 (at least 9 "
        "are needed)");
  CHECK(error_of([&] { data.eval_batches(Split::Train, 2, 10); }) ==
        "TokenDataset::eval_batches: the train split has 10 tokens, too few for seq_len 10 (at "
        "least 11 are needed)");
  CHECK(data.sample_batch(Split::Train, 5, 9, rng).inputs.data ==
        std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5,
                             6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(error_of([&] { data.sample_batch(Split::Train, 0, 4, rng); }).find("must be positive") !=
        std::string::npos);
  const Tokenizer no_eot = Tokenizer::train({"abc"}, 260, {});
  CHECK(error_of([&] { TokenDataset({"abc"}, no_eot); }) ==
        "TokenDataset: the tokenizer has no <|endoftext|> token to end documents with");
}

TEST_CASE("dataset: a --data file that is one document says how text is split into documents and what to change") {
  const Tokenizer tok = Tokenizer::train({"one long paragraph without a blank line"}, 270, {"<|endoftext|>"});
  const TokenDataset data({"one long paragraph without a blank line, so the whole file is a single document"}, tok, 0.05, 1);
  Rng rng(1);
  const std::string e = error_of([&] { data.sample_batch(Split::Val, 2, 8, rng); });
  CHECK(e.find("the val split has 0 tokens") != std::string::npos);
  CHECK(e.find("split into 1 document (at <|endoftext|> when the text holds one, else at blank lines)") != std::string::npos);
  CHECK(e.find("(1 and 0): separate the text into more documents with blank lines, or use a shorter --seq") != std::string::npos);
}

TEST_CASE("dataset: default_corpus_dataset builds tokenizer and dataset from the corpus") {
  const CorpusData cd = default_corpus_dataset(60000, 300, 9);
  CHECK(cd.tokenizer.vocab_size() == 300);
  CHECK(cd.tokenizer.eot_id() == 299);
  CHECK(cd.dataset.num_documents(Split::Val) > 0);
  CHECK(cd.dataset.num_tokens(Split::Train) > 10 * cd.dataset.num_tokens(Split::Val));
  const auto docs = load_or_generate_documents("", 60000, 9);
  CHECK(docs == corpus::split_documents(corpus::generate_text(9, 60000)));
  const auto is_val = val_document_mask(docs.size(), 0.05, 9);
  const size_t first_train = std::find(is_val.begin(), is_val.end(), false) - is_val.begin();
  const auto& train = cd.dataset.tokens(Split::Train);
  const auto eot = std::find(train.begin(), train.end(), cd.tokenizer.eot_id());
  CHECK(cd.tokenizer.decode({train.begin(), eot}) == docs[first_train]);
  const TokenDataset again = default_corpus_dataset(60000, cd.tokenizer, 9);
  CHECK(again.tokens(Split::Val) == cd.dataset.tokens(Split::Val));
}
