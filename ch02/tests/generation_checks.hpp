// Checks shared by the tests of every model that implements LanguageModel (ch02's transformer,
// ch03's MLA model, ch06's DeepSeekModel): a left-padded batch gives each row the logits it has
// alone, and batched generation equals one-by-one generation token for token.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "ch02/generate.hpp"
#include "ch02/padding.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"

namespace ds::ch02::test {

// Lengths 3, 7, 1, 5: three of the four rows are padded, one to a single real token.
inline std::vector<std::vector<int32_t>> mixed_prompts(int32_t vocab) {
  std::vector<std::vector<int32_t>> p;
  int32_t next = 3;
  for (int n : {3, 7, 1, 5}) {
    p.emplace_back();
    for (int i = 0; i < n; ++i) p.back().push_back((next = (next * 7 + 5) % vocab));
  }
  return p;
}

// The largest difference between the logits of each row in a left-padded batch and those of the
// row alone: over the prefill (real columns only) and, with caches, one decoding step after it.
inline float padded_logits_gap(LanguageModel& m, const std::vector<std::vector<int32_t>>& prompts, bool use_cache) {
  NoGradGuard ng;
  const LeftPadded batch = left_pad(prompts);
  const int64_t b = batch.ids.size(0), p = batch.ids.size(1), v = m.vocab_size();
  ForwardOptions opt{&batch.attention_mask};
  Caches caches = use_cache ? m.make_caches(b, p + 1) : Caches{};
  const Tensor prefill = m.forward(batch.ids, use_cache ? &caches : nullptr, opt);   // [B, P, V]
  Tensor step;
  IntTensor mask2;
  if (use_cache) {
    std::vector<int32_t> m2;
    for (int64_t r = 0; r < b; ++r) {
      m2.insert(m2.end(), batch.attention_mask.data.begin() + r * p, batch.attention_mask.data.begin() + (r + 1) * p);
      m2.push_back(1);
    }
    mask2 = IntTensor(m2, {b, p + 1});
    ForwardOptions opt2{&mask2};
    step = m.forward(IntTensor(std::vector<int32_t>(static_cast<size_t>(b), 1), {b, 1}), &caches, opt2);   // token 1 after every row
  }
  float worst = 0;
  for (int64_t r = 0; r < b; ++r) {
    const auto& ids = prompts[static_cast<size_t>(r)];
    const auto n = static_cast<int64_t>(ids.size());
    Caches own = use_cache ? m.make_caches(1, n + 1) : Caches{};
    const Tensor alone = m.forward(IntTensor(ids, {1, n}), use_cache ? &own : nullptr);
    for (int64_t j = 0; j < n * v; ++j) worst = std::max(worst, std::abs(alone.data()[j] - prefill.data()[(r * p + p - n) * v + j]));
    if (use_cache) {
      const Tensor s = m.forward(IntTensor({1}, {1, 1}), &own);
      for (int64_t j = 0; j < v; ++j) worst = std::max(worst, std::abs(s.data()[j] - step.data()[r * v + j]));
    }
  }
  return worst;
}

// Batched generation equals generating each prompt alone with its row index, token for token,
// and the log-probs agree.
inline void check_batched_equals_one_by_one(LanguageModel& m, const std::vector<std::vector<int32_t>>& prompts, SamplingConfig sc, bool use_cache) {
  const Generation batch = generate(m, prompts, sc, use_cache);
  int64_t generated = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    sc.first_row = static_cast<int64_t>(i);
    const Generation one = generate(m, {prompts[i]}, sc, use_cache);
    CHECK(batch.tokens[i] == one.tokens[0]);
    generated += static_cast<int64_t>(one.tokens[0].size());
    for (size_t j = 0; j < std::min(batch.tokens[i].size(), one.tokens[0].size()); ++j) {
      const int64_t n = batch.logprobs.size(1);
      CHECK(std::abs(batch.logprobs.data()[static_cast<int64_t>(i) * n + static_cast<int64_t>(j)] - one.logprobs.data()[j]) < 1e-4f);
      CHECK(std::abs(batch.sampling_logprobs.data()[static_cast<int64_t>(i) * n + static_cast<int64_t>(j)] -
                     one.sampling_logprobs.data()[j]) < 1e-4f);
    }
  }
  CHECK(generated > 0);
}

// Greedy, then temperature with top-k, then temperature with top-p.
inline std::vector<SamplingConfig> sampling_configs(int64_t new_tokens, uint64_t seed) {
  std::vector<SamplingConfig> out(3);
  for (auto& sc : out) {
    sc.max_new_tokens = new_tokens;
    sc.seed = seed;
  }
  out[1].temperature = 0.9f;
  out[1].top_k = 10;
  out[2].temperature = 1.2f;
  out[2].top_p = 0.9f;
  return out;
}

// check_batched_equals_one_by_one for each configuration, with and without the cache.
inline void check_batched_generation(LanguageModel& m, const std::vector<std::vector<int32_t>>& prompts, const std::vector<SamplingConfig>& configs) {
  for (const SamplingConfig& sc : configs)
    for (bool cache : {true, false}) {
      CAPTURE(sc.temperature);
      CAPTURE(cache);
      check_batched_equals_one_by_one(m, prompts, sc, cache);
    }
}

// The largest difference between generate()'s log-probs and log-softmax of a full forward over
// prompt + completion, each row alone.
inline float logprob_recompute_gap(LanguageModel& m, const std::vector<std::vector<int32_t>>& prompts, const Generation& g) {
  NoGradGuard ng;
  float worst = 0;
  const int64_t n = g.logprobs.size(1), v = m.vocab_size();
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> ids = prompts[i];
    ids.insert(ids.end(), g.tokens[i].begin(), g.tokens[i].end());
    const auto len = static_cast<int64_t>(ids.size()), p = static_cast<int64_t>(prompts[i].size());
    const Tensor lsm = log_softmax(m.forward(IntTensor(ids, {1, len})));
    for (int64_t j = 0; j < static_cast<int64_t>(g.tokens[i].size()); ++j) {
      const float full = lsm.data()[(p - 1 + j) * v + g.tokens[i][static_cast<size_t>(j)]];
      worst = std::max(worst, std::abs(full - g.logprobs.data()[static_cast<int64_t>(i) * n + j]));
    }
  }
  return worst;
}

}  // namespace ds::ch02::test
