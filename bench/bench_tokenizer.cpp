// bench_tokenizer: encoding speed of DeepSeek-V3's real tokenizer (scripts/fetch-tokenizers.sh) on
// a text file, documents split at blank lines, one thread. tools/tokenizer_speed.mjs runs the
// reference encoder on the same file; equal token counts and checksums mean equal ids.
//     ./build/bin/bench_tokenizer --file FILE
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "common/flags.hpp"
#include "common/fsutil.hpp"
#include "common/run.hpp"
#include "common/tokenizer_files.hpp"

namespace {
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

std::vector<std::string> documents(const std::string& text) {   // split at runs of blank lines, as the node script does
  std::vector<std::string> docs;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find("\n\n", start);
    if (end == std::string::npos) end = text.size();
    if (end > start) docs.push_back(text.substr(start, end - start));
    start = end;
    while (start < text.size() && text[start] == '\n') ++start;
  }
  return docs;
}
}  // namespace

int main(int argc, char** argv) {
  return ds::run_main("bench_tokenizer", [&] {
    std::string file;
    ds::Flags flags("bench_tokenizer", "Encoding speed of DeepSeek-V3's real tokenizer on a text file (one thread, CPU seconds).");
    flags.add("--file", file, "the UTF-8 text to encode, documents split at blank lines (required)");
    flags.parse(argc, argv);
    if (file.empty()) ds::fail("bench_tokenizer", "give the text to encode with --file FILE");
    const ds::Tokenizer tok = ds::load_deepseek_v3().tokenizer;
    const std::vector<std::string> docs = documents(ds::read_text_file(file));
    size_t bytes = 0, tokens = 0;
    uint32_t checksum = 0;
    const double t0 = cpu_seconds();
    for (const std::string& d : docs) {
      bytes += d.size();
      for (const int32_t id : tok.encode(d)) {
        checksum = checksum * 31u + static_cast<uint32_t>(id);
        ++tokens;
      }
    }
    const double s = cpu_seconds() - t0;
    const double t1 = cpu_seconds();   // GPT-2's pattern alone through PCRE2 (what Tokenizer::train splits with)
    size_t pieces = 0;
    for (const std::string& d : docs) pieces += ds::pretokenize(d).size();
    const double split_s = cpu_seconds() - t1;
    std::printf("this repository's encoder (PCRE2):  %zu documents, %.2f MB, %zu tokens, checksum %u, %.2f CPU s, %.0f tokens/s\n", docs.size(),
                static_cast<double>(bytes) / 1e6, tokens, checksum, s, static_cast<double>(tokens) / s);
    std::printf("GPT-2's pre-tokenizer pattern alone: %zu pieces, %.2f CPU s, %.0f MB/s\n", pieces, split_s, static_cast<double>(bytes) / 1e6 / split_s);
    return 0;
  });
}
