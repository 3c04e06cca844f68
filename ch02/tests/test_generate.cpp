#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "ch02/generate.hpp"
#include "generation_checks.hpp"
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
      sc.seed = 9;
      const Generation a = generate(*model, {{1, 2, 3}}, sc, false);
      const Generation b = generate(*model, {{1, 2, 3}}, sc, true);
      CHECK(a.tokens == b.tokens);
      CHECK(a.tokens[0].size() == 12);
      CHECK(b.forward_calls == 12);
    }
  }
}

TEST_CASE("padding: a left-padded row has the logits of the row alone (MHA, GQA, MQA, learned positions)") {
  for (auto [kv, learned] : {std::pair{4, false}, std::pair{2, false}, std::pair{1, false}, std::pair{2, true}}) {
    CAPTURE(kv);
    CAPTURE(learned);
    auto model = test::tiny_lm(4, kv, 1, 32, learned);
    const auto prompts = test::mixed_prompts(50);
    CHECK(test::padded_logits_gap(*model, prompts, false) < 1e-5f);
    CHECK(test::padded_logits_gap(*model, prompts, true) < 1e-5f);
  }
}

TEST_CASE("padding: positions count from each row's first real token") {
  const Padding p = make_padding(IntTensor({0, 0, 1, 1, 1, 1, 1, 1}, {2, 4}), 3);
  CHECK(p.position_ids.data == std::vector<int32_t>{0, 0, 1, 1, 2, 3});   // padding gets 0
  CHECK(p.keys(6).data == std::vector<int32_t>{0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0});
  CHECK_THROWS_AS(make_padding(IntTensor({0, 2}, {1, 2}), 1), std::invalid_argument);
  const LeftPadded l = left_pad({{5, 6}, {7}}, 9);
  CHECK(l.ids.data == std::vector<int32_t>{5, 6, 9, 7});
  CHECK(l.attention_mask.data == std::vector<int32_t>{1, 1, 0, 1});
  CHECK(l.padded);
  CHECK_FALSE(left_pad({{5, 6}, {7, 8}}).padded);
}

TEST_CASE("generate: prompts of different lengths in one batch equal one-by-one generation, token for token") {
  const auto prompts = test::mixed_prompts(50);
  for (auto [kv, learned] : {std::pair{4, false}, std::pair{2, true}, std::pair{1, true}}) {
    auto model = test::tiny_lm(4, kv, 2, 32, learned);
    CAPTURE(kv);
    test::check_batched_generation(*model, prompts, test::sampling_configs(10, 11));
  }
}

TEST_CASE("generate: a row's sample does not depend on the rest of its batch, and rows draw different streams") {
  auto model = test::tiny_lm(4, 2, 3, 32, true);
  SamplingConfig sc = test::sampling_configs(12, 11)[1];
  const std::vector<int32_t> prompt = {4, 8, 15};
  const Generation small = generate(*model, {prompt, {16, 23}}, sc);
  const Generation big = generate(*model, {prompt, {42}, {1, 2, 3, 4, 5, 6}}, sc);
  CHECK(small.tokens[0] == big.tokens[0]);
  const Generation same = generate(*model, {prompt, prompt, prompt}, sc);
  CHECK(same.tokens[0] == small.tokens[0]);
  CHECK((same.tokens[1] != same.tokens[0] || same.tokens[2] != same.tokens[0]));   // not one stream copied
  CHECK(row_rng(5, 0).next_u64() == Rng(5).next_u64());
}

TEST_CASE("generate: log-probs equal a full forward's, lengths and completion mask follow the stop tokens") {
  const auto prompts = test::mixed_prompts(50);
  auto model = test::tiny_lm(4, 2, 4, 32, true);
  for (SamplingConfig sc : test::sampling_configs(9, 11)) {
    const Generation g0 = generate(*model, prompts, sc);
    sc.stop_tokens = {g0.tokens[1][3], g0.tokens[3][1]};   // rows 1 and 3 stop early
    const Generation g = generate(*model, prompts, sc);
    CHECK(test::logprob_recompute_gap(*model, prompts, g) < 1e-4f);
    int64_t longest = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
      CHECK(g.lengths[i] == static_cast<int64_t>(g.tokens[i].size()));
      longest = std::max(longest, g.lengths[i]);
      if (g.lengths[i] < 9) CHECK(std::count(sc.stop_tokens.begin(), sc.stop_tokens.end(), g.tokens[i].back()) == 1);
    }
    CHECK(g.lengths[1] <= 4);
    CHECK(g.logprobs.shape() == Shape{4, longest});
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < longest; ++j) {
        const bool in = j < g.lengths[static_cast<size_t>(i)];
        CHECK(g.completion_mask.data()[i * longest + j] == (in ? 1.f : 0.f));
        if (!in) CHECK(g.logprobs.data()[i * longest + j] == 0.f);
        if (in) CHECK(g.logprobs.data()[i * longest + j] < 0.f);
        if (in && sc.temperature == 0.f) CHECK(g.sampling_logprobs.data()[i * longest + j] == 0.f);   // greedy: q is a point mass
      }
  }
}

TEST_CASE("sample_token: greedy is argmax, top-k and top-p keep only the head of the distribution") {
  const std::vector<float> logits = {0.f, 3.f, 1.f, 2.9f, -1.f};
  SamplingConfig sc;
  Rng rng(3);
  CHECK(sample_token(logits.data(), 5, sc, rng).token == 1);
  sc.temperature = 1.f;
  sc.top_k = 2;
  std::map<int32_t, int> seen;
  for (int i = 0; i < 2000; ++i) seen[sample_token(logits.data(), 5, sc, rng).token]++;
  CHECK(seen.size() == 2);
  CHECK(seen[1] > seen[3]);   // e^3 vs e^2.9
  sc.top_k = 0;
  sc.top_p = 0.5f;            // token 1 alone has p ~ 0.47 < 0.5, so tokens 1 and 3 are kept
  seen.clear();
  for (int i = 0; i < 2000; ++i) seen[sample_token(logits.data(), 5, sc, rng).token]++;
  CHECK(seen.size() == 2);
  sc.top_p = 1.f;
  sc.temperature = 100.f;      // nearly uniform
  seen.clear();
  for (int i = 0; i < 5000; ++i) seen[sample_token(logits.data(), 5, sc, rng).token]++;
  CHECK(seen.size() == 5);
  for (auto& [k, n] : seen) CHECK(std::abs(n - 1000) < 200);
}

TEST_CASE("sample_token: the log-probs under the model and under the sampling distribution") {
  const std::vector<float> logits = {0.f, 3.f, 1.f, 2.9f, -1.f};
  double z = 0;
  for (float l : logits) z += std::exp(l);
  SamplingConfig sc;
  Rng rng(4);
  for (int i = 0; i < 50; ++i) {
    sc.temperature = 0.5f;
    sc.top_k = 2;   // q over tokens 1 and 3 at temperature 0.5
    const SampledToken s = sample_token(logits.data(), 5, sc, rng);
    CHECK(s.logprob == doctest::Approx(logits[s.token] - std::log(z)).epsilon(1e-6));
    const double zq = std::exp(3.f / 0.5) + std::exp(2.9f / 0.5);
    CHECK(s.sampling_logprob == doctest::Approx(logits[s.token] / 0.5 - std::log(zq)).epsilon(1e-5));
    sc.top_k = 0;
    sc.temperature = 2.f;   // q = softmax(logits / 2)
    const SampledToken t = sample_token(logits.data(), 5, sc, rng);
    double z2 = 0;
    for (float l : logits) z2 += std::exp(l / 2.0);
    CHECK(t.sampling_logprob == doctest::Approx(logits[t.token] / 2.0 - std::log(z2)).epsilon(1e-5));
  }
}

TEST_CASE("generate: a prompt longer than the model's positions, or an empty one, is one clear error") {
  auto model = test::tiny_lm(4, 4);
  SamplingConfig sc;
  sc.max_new_tokens = 10;
  CHECK_THROWS_WITH_AS(generate(*model, {{1, 2}, std::vector<int32_t>(60, 1)}, sc, true),
                       "generate: prompt (60) + new tokens (10) exceed the model's 64 positions", std::length_error);
  CHECK_THROWS_WITH_AS(generate(*model, {{1, 2}, {}}, sc, true), "generate: a prompt needs at least one token", std::invalid_argument);
}
