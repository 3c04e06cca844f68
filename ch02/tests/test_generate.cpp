#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "ch02/generate.hpp"
#include "test_helpers_ch02.hpp"

using namespace ds;
using namespace ds::ch02;

TEST_CASE("generate: cached and uncached decoding give the same tokens, greedy and sampled") {
  for (int64_t kv : {4, 2, 1}) {
    auto model = test::tiny_lm(4, kv);
    for (float temp : {0.f, 0.8f}) {
      SamplingConfig sc;
      sc.max_new_tokens = 12;
      sc.temperature = temp;
      sc.top_k = temp > 0 ? 10 : 0;
      Rng r1(9), r2(9);
      const Generation a = generate(*model, {{1, 2, 3}}, sc, false, r1);
      const Generation b = generate(*model, {{1, 2, 3}}, sc, true, r2);
      CHECK(a.tokens == b.tokens);
      CHECK(a.tokens[0].size() == 12);
      CHECK(b.forward_calls == 12);
    }
  }
}

TEST_CASE("generate: batched prompts equal one-by-one generation, stop tokens end a sequence") {
  auto model = test::tiny_lm(4, 2);
  SamplingConfig sc;
  sc.max_new_tokens = 8;
  Rng rng(1);
  const Generation batch = generate(*model, {{5, 6}, {7, 8, 9}, {10, 11}}, sc, true, rng);
  CHECK(batch.tokens[0] == generate(*model, {{5, 6}}, sc, true, rng).tokens[0]);
  CHECK(batch.tokens[1] == generate(*model, {{7, 8, 9}}, sc, false, rng).tokens[0]);
  CHECK(batch.tokens[2] == generate(*model, {{10, 11}}, sc, true, rng).tokens[0]);
  sc.stop_tokens = {batch.tokens[0][2]};
  const Generation stopped = generate(*model, {{5, 6}}, sc, true, rng);
  CHECK(stopped.tokens[0].size() <= 3);
  CHECK(stopped.tokens[0].back() == sc.stop_tokens[0]);
}

TEST_CASE("sample_token: greedy is argmax, top-k and top-p keep only the head of the distribution") {
  const std::vector<float> logits = {0.f, 3.f, 1.f, 2.9f, -1.f};
  SamplingConfig sc;
  Rng rng(3);
  CHECK(sample_token(logits.data(), 5, sc, rng) == 1);
  sc.temperature = 1.f;
  sc.top_k = 2;
  std::map<int32_t, int> seen;
  for (int i = 0; i < 2000; ++i) seen[sample_token(logits.data(), 5, sc, rng)]++;
  CHECK(seen.size() == 2);
  CHECK(seen[1] > seen[3]);   // e^3 vs e^2.9
  sc.top_k = 0;
  sc.top_p = 0.5f;            // token 1 alone has p ~ 0.47 < 0.5, so tokens 1 and 3 are kept
  seen.clear();
  for (int i = 0; i < 2000; ++i) seen[sample_token(logits.data(), 5, sc, rng)]++;
  CHECK(seen.size() == 2);
  sc.top_p = 1.f;
  sc.temperature = 100.f;      // nearly uniform
  seen.clear();
  for (int i = 0; i < 5000; ++i) seen[sample_token(logits.data(), 5, sc, rng)]++;
  CHECK(seen.size() == 5);
  for (auto& [k, n] : seen) CHECK(std::abs(n - 1000) < 200);
}

TEST_CASE("generate: a prompt longer than the model's positions is one clear error") {
  auto model = test::tiny_lm(4, 4);
  SamplingConfig sc;
  sc.max_new_tokens = 10;
  Rng rng(1);
  CHECK_THROWS_WITH_AS(generate(*model, {std::vector<int32_t>(60, 1)}, sc, true, rng),
                       "generate: prompt (60) + new tokens (10) exceed the model's 64 positions", std::length_error);
}
