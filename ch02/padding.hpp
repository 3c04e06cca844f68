// Prompts of different lengths in one batch. Each row is left-padded so that all rows end at the
// same column, and an attention mask (Hugging Face's name and layout: 1 = real token, 0 =
// padding) says which columns hold real tokens. Two things keep a row's logits independent of
// its padding: padded keys get no attention weight, and each row's positions count from its own
// first real token (position_ids = cumsum(mask) - 1, as Hugging Face's generate computes them),
// for RoPE and for learned position tables alike.
#pragma once

#include <vector>

#include "common/tensor.hpp"

namespace ds::ch02 {

// What attention layers read of a padded batch; the model builds it once per forward.
struct Padding {
  IntTensor key_valid;      // [B, S]: the attention mask over the cached tokens and the T new ones
  IntTensor position_ids;   // [B, T]: the position of each new token within its own row
  // key_valid widened with zeros to `allocated` columns (a KV cache allocated for more tokens).
  IntTensor keys(int64_t allocated) const;
};

// attention_mask [B, S] of 0/1 whose last `new_tokens` columns are the tokens being run.
// Padding columns get position 0 (they are never attended to).
Padding make_padding(const IntTensor& attention_mask, int64_t new_tokens);

// Rows left-padded to the longest: ids [B, L] with pad_id in the padding, and the mask [B, L].
struct LeftPadded {
  IntTensor ids, attention_mask;
  bool padded = false;   // some row is shorter than L (else the mask is all ones)
};
LeftPadded left_pad(const std::vector<std::vector<int32_t>>& rows, int32_t pad_id = 0);

}  // namespace ds::ch02
