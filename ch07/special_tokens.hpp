// Special tokens for post-training: DeepSeek-R1 writes its reasoning between <think> and
// </think> and chat data marks each turn's role; a tokenizer trained before them has no
// single token for any of them. This adds them to a trained tokenizer and grows the model's
// vocabulary to match (embed_tokens and lm_head gain rows, old rows untouched bit for bit), so
// the pair saves and loads as any checkpoint (tokenizer.json lists them in added_tokens).
#pragma once

#include <string>
#include <vector>

#include "ch06/model.hpp"
#include "common/tokenizer.hpp"

namespace ds::ch07 {

// Returns the tokens' ids. The model grows to the tokenizer's vocabulary when that is larger;
// new rows are drawn from rng as at initialisation (normal, initializer_range).
std::vector<int32_t> add_special_tokens(ch06::DeepSeekModel& model, Tokenizer& tokenizer, const std::vector<std::string>& tokens, Rng& rng);

}  // namespace ds::ch07
