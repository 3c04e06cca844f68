// Self-speculative decoding with the first MTP module (DeepSeek-V3 section 5.4.3): the main
// model predicts the next token, MTP module 1 drafts the one after it, and the next forward of
// the main model checks the draft while it computes the next token anyway. An accepted draft
// is a token for free; a rejected one costs nothing but the draft. Greedy only, so the output
// is exactly plain greedy decoding's.
#pragma once

#include <vector>

#include "ch05/mtp.hpp"

namespace ds::ch05 {

struct SpeculativeResult {
  std::vector<int32_t> tokens;     // the new tokens
  int64_t main_forwards = 0;       // forward passes of the main model, the prefill included
  int64_t drafted = 0, accepted = 0;
  double seconds = 0;
  double acceptance() const { return drafted ? static_cast<double>(accepted) / static_cast<double>(drafted) : 0.0; }
  double tokens_per_forward() const { return main_forwards ? static_cast<double>(tokens.size()) / static_cast<double>(main_forwards) : 0.0; }
};

// Generates max_new_tokens after prompt (batch 1) with drafts from model.mtp[0].
SpeculativeResult speculative_greedy(MTPModel& model, const std::vector<int32_t>& prompt, int64_t max_new_tokens);

}  // namespace ds::ch05
