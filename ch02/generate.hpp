// Autoregressive generation, the one generation API of the repository: prefill the prompts,
// then one token per step, with or without the KV cache; greedy, temperature, top-k and top-p
// sampling; stop tokens. Prompts of different lengths run as one left-padded batch (padding.hpp).
// RL and distillation (ch07, ch08) sample from this same code, so it also returns what they
// need: each sampled token's log-probability under the model and under the sampling
// distribution, the completion lengths and a completion mask.
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
  // Row r of a call draws from row_rng(seed, first_row + r) alone, so its sample depends on
  // neither the other rows nor how a larger batch was split into calls (pass each part's offset).
  uint64_t seed = 0;
  int64_t first_row = 0;
};

// The RNG stream of row `row` of a batch seeded `seed`. Stream 0 is Rng(seed) itself, so a
// one-prompt generation draws what a plain Rng(seed) would.
Rng row_rng(uint64_t seed, int64_t row);

struct SampledToken {
  int32_t token;
  float logprob;            // log p(token): log-softmax of the raw logits
  float sampling_logprob;   // log q(token) under the distribution sampled from (temperature,
                            // top-k, top-p applied); 0 for greedy, whose q is a point mass
};
// Picks the next token from one row of logits [V]; draws one uniform from rng unless greedy.
SampledToken sample_token(const float* logits, int64_t vocab, const SamplingConfig& cfg, Rng& rng);

struct Generation {
  std::vector<std::vector<int32_t>> tokens;   // the new tokens of each prompt (stop token included)
  std::vector<int64_t> lengths;               // tokens[i].size()
  // [B, N], N = the longest completion; a row's entries past its length are 0.
  Tensor logprobs;                            // log p(token) under the model (before temperature/top-k/top-p)
  Tensor sampling_logprobs;                   // log q(token) under the sampling distribution
  Tensor completion_mask;                     // 1 for each generated token, 0 past the row's end
  std::vector<double> step_seconds;           // wall time of each decoding step (step 0 = prefill)
  std::vector<int64_t> cache_bytes_used;      // cache bytes holding tokens after each step
  int64_t forward_calls = 0;
};

// All prompts run as one batch, left-padded to the longest with an attention mask; a row's
// tokens equal those it gets when generated alone (same seed and row index). Without the cache
// every step recomputes the whole sequence, as the book's listing 2.1 does.
Generation generate(LanguageModel& model, const std::vector<std::vector<int32_t>>& prompts,
                    const SamplingConfig& cfg, bool use_cache = true);

}  // namespace ds::ch02
