// Tokenizer::load_gpt2 on any bytes: vocab.json up to the first NUL byte, merges.txt after it
// (no NUL: everything is vocab.json and merges.txt is empty).
#include "common/tokenizer.hpp"
#include "fuzz/fuzz_util.hpp"
#include "fuzz/tokenizer_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ds::fuzz::ScratchFile vocab("vocab.json");
  static const ds::fuzz::ScratchFile merges("merges.txt");
  const std::string_view input = ds::fuzz::as_text(data, size);
  const size_t nul = input.find('\0');
  vocab.write(input.substr(0, nul));
  merges.write(nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1));
  ds::Tokenizer tok;
  if (!ds::fuzz::accepts([&] { tok = ds::Tokenizer::load_gpt2(vocab.path(), merges.path()); })) return 0;
  ds::fuzz::check_loaded_tokenizer(tok, input, vocab);
  return 0;
}
