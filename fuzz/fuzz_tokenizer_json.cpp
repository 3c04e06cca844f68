// Tokenizer::load on any bytes as tokenizer.json (Hugging Face layout).
#include "common/tokenizer.hpp"
#include "fuzz/fuzz_util.hpp"
#include "fuzz/tokenizer_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ds::fuzz::ScratchFile file("tokenizer.json");
  ds::Tokenizer tok;
  const std::string_view input = ds::fuzz::as_text(data, size);
  if (!ds::fuzz::accepts([&] { tok = ds::Tokenizer::load(file.write(input)); })) return 0;
  ds::fuzz::check_loaded_tokenizer(tok, input, file);
  return 0;
}
