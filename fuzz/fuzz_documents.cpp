// The --data reader on any bytes as the file: corpus::load_documents, then what
// program_corpus does with the documents (a BPE trained on them, the token dataset).
// Documents must come out trimmed, non-empty and free of <|endoftext|>, and each must
// encode and decode_bytes back to itself (a --data file may hold any bytes).
#include <string>
#include <vector>

#include "common/corpus.hpp"
#include "common/dataset.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace ds;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile file("data.txt");
  std::vector<std::string> docs;
  if (!fuzz::accepts([&] { docs = corpus::load_documents(file.write(fuzz::as_text(data, size))); })) return 0;
  if (docs.empty()) fuzz::fail("load_documents accepted a file with no documents");
  const std::string space = " \t\r\n\v\f";
  for (const std::string& d : docs)
    if (d.empty() || space.find(d.front()) != std::string::npos || space.find(d.back()) != std::string::npos ||
        d.find("<|endoftext|>") != std::string::npos)
      fuzz::fail("a document is empty, untrimmed or holds <|endoftext|>: '" + d + "'");
  // 300 tokens rather than --quick's 512: the same code, less training time per input.
  const CorpusData cd = corpus_dataset(docs, 300, 0);
  int64_t tokens = 0;
  for (const std::string& d : docs) {
    const std::vector<int32_t> ids = cd.tokenizer.encode(d);
    if (cd.tokenizer.decode_bytes(ids) != d) fuzz::fail("decode_bytes(encode(doc)) != doc for '" + d + "'");
    tokens += static_cast<int64_t>(ids.size()) + 1;   // + <|endoftext|>
  }
  if (cd.dataset.num_tokens(Split::Train) + cd.dataset.num_tokens(Split::Val) != tokens)
    fuzz::fail("the dataset does not hold every document's tokens");
  return 0;
}
