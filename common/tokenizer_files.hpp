// The real tokenizers the book compares with the mini model's: DeepSeek-V3's (128k tokens) and
// GPT-2's (50k), as scripts/fetch-tokenizers.sh fetches them into third_party/tokenizers/.
#pragma once

#include <string>

#include "common/tokenizer.hpp"

namespace ds {

// third_party/tokenizers/<name> under the working directory, else under the source tree this
// program was built from. Throws one sentence naming the fetch script when neither has it.
std::string tokenizer_dir(const std::string& name);
bool have_tokenizer(const std::string& name);   // the same without throwing

// DeepSeek-V3's tokenizer.json, with tokenizer_config.json's add_bos_token / add_eos_token made
// its template (as transformers' LlamaTokenizerFast does), so encode(text, true) starts with
// <｜begin▁of▁sentence｜>.
struct DeepSeekTokenizer {
  Tokenizer tokenizer;
  std::string bos_token, eos_token, chat_template;
};
DeepSeekTokenizer load_deepseek_v3();
Tokenizer load_gpt2_tokenizer();

// How many tokens DeepSeek-V3 reads for text: its real tokenizer, the BOS token included.
int64_t deepseek_v3_token_count(const std::string& text);   // vocab.json + merges.txt with GPT-2's pre-tokenizer

}  // namespace ds
