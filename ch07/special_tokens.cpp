#include "ch07/special_tokens.hpp"

#include <stdexcept>

namespace ds::ch07 {

std::vector<int32_t> add_special_tokens(ch06::DeepSeekModel& model, Tokenizer& tokenizer, const std::vector<std::string>& tokens, Rng& rng) {
  if (tokenizer.vocab_size() > model.vocab_size())
    throw std::invalid_argument("add_special_tokens: the tokenizer already has " + std::to_string(tokenizer.vocab_size()) +
                                " tokens, more than the model's " + std::to_string(model.vocab_size()));
  const std::vector<int32_t> ids = tokenizer.add_special_tokens(tokens);
  if (tokenizer.vocab_size() > model.vocab_size()) model.resize_token_embeddings(tokenizer.vocab_size(), rng);
  return ids;
}

}  // namespace ds::ch07
