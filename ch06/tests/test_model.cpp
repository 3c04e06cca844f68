#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ch02/score.hpp"
#include "ch02/tests/generation_checks.hpp"
#include "ch03/mla_activations.hpp"
#include "ch03/mla_model.hpp"
#include "ch06/checkpoint.hpp"
#include "common/autograd.hpp"
#include "common/memory.hpp"
#include "common/ops.hpp"
#include "common/optim.hpp"
#include "ch06/tests/model_steps.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch06;

using ds::ch06::model_steps::logits_of;
using ds::ch06::model_steps::train_one_step;

TEST_CASE("DeepSeek model: a left-padded row has the row's logits, naive and absorbed MLA, with and without the cache") {
  Rng rng(1);
  DeepSeekModel m(preset("tiny"), rng);
  const auto prompts = ch02::test::mixed_prompts(256);
  for (auto mode : {ch03::MLAMode::Naive, ch03::MLAMode::Absorbed}) {
    m.set_mla_mode(mode);
    CHECK(ch02::test::padded_logits_gap(m, prompts, false) < 1e-5f);
    CHECK(ch02::test::padded_logits_gap(m, prompts, true) < 1e-5f);
  }
}

TEST_CASE("DeepSeek model: batched generation equals one-by-one generation, greedy and sampled, cached or not") {
  Rng rng(2);
  DeepSeekModel m(preset("tiny"), rng);
  const auto prompts = ch02::test::mixed_prompts(256);
  const auto configs = ch02::test::sampling_configs(8, 5);
  for (auto mode : {ch03::MLAMode::Naive, ch03::MLAMode::Absorbed}) {
    CAPTURE(static_cast<int>(mode));
    m.set_mla_mode(mode);
    ch02::test::check_batched_generation(m, prompts, configs);
  }
  m.set_mla_mode(ch03::MLAMode::Absorbed);
  const ch02::Generation g = ch02::generate(m, prompts, configs[1]);
  CHECK(ch02::test::logprob_recompute_gap(m, prompts, g) < 1e-4f);
  m.set_mla_mode(ch03::MLAMode::Naive);   // training's path scores what decoding's path generated
  const ch02::TokenScores s = ch02::score_completions(m, prompts, g.tokens);
  CHECK(test::max_abs_diff(s.log_probs, g.logprobs) < 1e-4f);
  CHECK(s.mask.to_vector() == g.completion_mask.to_vector());
}

TEST_CASE("clone: the same logits, its own storage, independent after the original trains a step, frozen copies record no tape") {
  Rng rng(3);
  DeepSeekModel m(preset("tiny"), rng);
  for (auto* moe : m.moe_layers()) moe->gate.e_score_correction_bias.data()[2] = 0.5f;   // buffers are copied too
  m.set_mla_mode(ch03::MLAMode::Absorbed);
  const auto copy = m.clone();
  const auto ref = frozen_copy(m);
  CHECK(copy->mla_mode() == ch03::MLAMode::Absorbed);
  const IntTensor ids({1, 5, 9, 200, 3, 77, 4, 8}, {2, 4});
  const Tensor before = logits_of(m, ids);
  CHECK(test::max_abs_diff(before, logits_of(*copy, ids)) == 0.f);
  CHECK(test::max_abs_diff(before, logits_of(*ref, ids)) == 0.f);
  const auto mine = m.state_dict(), theirs = copy->state_dict();
  REQUIRE(mine.size() == theirs.size());
  for (size_t i = 0; i < mine.size(); ++i) CHECK(mine[i].second.data() != theirs[i].second.data());
  m.set_mla_mode(ch03::MLAMode::Naive);
  train_one_step(m);
  CHECK(test::max_abs_diff(before, logits_of(m, ids)) > 1e-4f);            // the original moved
  CHECK(test::max_abs_diff(before, logits_of(*copy, ids)) == 0.f);         // the copies did not
  CHECK(test::max_abs_diff(before, logits_of(*ref, ids)) == 0.f);
  for (const auto& [name, t] : ref->named_parameters()) CHECK_FALSE(t.requires_grad());
  for (const auto& [name, t] : copy->named_parameters()) CHECK(t.requires_grad());
  const Tensor out = ref->forward(ids);   // no NoGradGuard: frozen weights alone keep the tape empty
  CHECK_FALSE(out.requires_grad());
}

TEST_CASE("DeepSeek model: recomputation (V3 section 3.2.3) leaves the loss and every gradient bit for bit, and keeps the bytes the shapes say") {
  const DeepSeekConfig cfg = preset("tiny");
  Rng rng(4);
  DeepSeekModel m(cfg, rng);
  const int64_t b = 4, t = 32;   // enough tokens that activations, not the weights' gradients, make the peak
  std::vector<int32_t> tok;
  for (int64_t i = 0; i < b * (t + 1); ++i) tok.push_back(static_cast<int32_t>(rng.randint(cfg.vocab_size)));
  std::vector<int32_t> in, next;
  for (int64_t r = 0; r < b; ++r)
    for (int64_t i = 0; i < t; ++i) {
      in.push_back(tok[r * (t + 1) + i]);
      next.push_back(tok[r * (t + 1) + i + 1]);
    }
  const IntTensor ids(in, {b, t}), targets(next, {b, t});
  struct Step {
    float loss = 0;
    int64_t kept = 0, peak = 0;   // bytes held after the forward, and at the step's peak
    std::vector<Tensor> grads;
  };
  const auto step = [&](bool on) {
    m.set_recompute(on);
    m.zero_grad();
    Step s;
    const int64_t base = memory::live_bytes();
    memory::reset_peak();
    {
      const ch05::MTPLoss l = ch05::mtp_loss(m.forward_all(ids), targets, 0.3f);
      s.kept = memory::live_bytes() - base;
      s.loss = l.total.item();
      l.total.backward();
    }
    s.peak = memory::peak_bytes() - base;
    for (const auto& p : m.parameters()) s.grads.push_back(p.grad().defined() ? p.grad().clone() : Tensor());
    return s;
  };
  const Step plain = step(false), recomputed = step(true);
  CHECK(recomputed.loss == plain.loss);
  REQUIRE(recomputed.grads.size() == plain.grads.size());
  int64_t differing = 0;
  for (size_t i = 0; i < plain.grads.size(); ++i)
    differing += plain.grads[i].defined() != recomputed.grads[i].defined() ||
                 (plain.grads[i].defined() &&
                  std::memcmp(plain.grads[i].data(), recomputed.grads[i].data(), static_cast<size_t>(plain.grads[i].numel()) * sizeof(float)) != 0);
  CHECK(differing == 0);
  // num_hidden_layers blocks over B T tokens and the MTP module's block over B (T - 1); each
  // block's three regions add one float.
  const int64_t blocks = cfg.num_hidden_layers + cfg.num_nextn_predict_layers;
  const int64_t tokens = cfg.num_hidden_layers * b * t + cfg.num_nextn_predict_layers * b * (t - 1);
  const int64_t per_token = ch03::block_recompute_elements_per_token(ch03::mla_config(cfg), cfg.hidden_size) * 4;
  CHECK(plain.kept - recomputed.kept == per_token * tokens - 3 * 4 * blocks);
  CHECK(recomputed.peak < plain.peak);
}
