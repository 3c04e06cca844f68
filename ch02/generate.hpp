// Autoregressive generation, the one generation API of the repository:
// prefill the prompt, then one token per step, with or without the KV cache; greedy,
// temperature, top-k and top-p sampling from a seeded RNG; stop tokens; batched prompts.
#pragma once

#include <vector>

#include "ch02/language_model.hpp"

namespace ds::ch02 {

struct SamplingConfig {
  int64_t max_new_tokens = 20;
  float temperature = 0.f;             // 0: greedy (argmax)
  int64_t top_k = 0;                   // 0: no top-k filter
  float top_p = 1.f;                   // 1: no nucleus filter
  std::vector<int32_t> stop_tokens;    // generation of a sequence ends after one of these
};

struct Generation {
  std::vector<std::vector<int32_t>> tokens;   // the new tokens of each prompt (stop token included)
  std::vector<double> step_seconds;           // wall time of each decoding step (step 0 = prefill)
  std::vector<int64_t> cache_bytes_used;      // cache bytes holding tokens after each step
  int64_t forward_calls = 0;
};

// Picks the next token from one row of logits [V].
int32_t sample_token(const float* logits, int64_t vocab, const SamplingConfig& cfg, Rng& rng);

// Prompts of equal length run as one batch; different lengths run in groups of equal length.
// Without the cache every step recomputes the whole sequence, as the book's listing 2.1 does.
Generation generate(LanguageModel& model, const std::vector<std::vector<int32_t>>& prompts,
                    const SamplingConfig& cfg, bool use_cache, Rng& rng);

}  // namespace ds::ch02
