#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ch02/score.hpp"
#include "ch02/tests/generation_checks.hpp"
#include "ch03/mla_activations.hpp"
#include "ch03/mla_model.hpp"
#include "ch06/checkpoint.hpp"
#include "ch06/special_tokens.hpp"
#include "common/autograd.hpp"
#include "common/memory.hpp"
#include "common/ops.hpp"
#include "common/optim.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch06;

namespace {
Tensor logits_of(DeepSeekModel& m, const IntTensor& ids) {
  NoGradGuard ng;
  return m.forward(ids);
}

// One AdamW step on the next-token loss of a fixed batch.
void train_one_step(DeepSeekModel& m) {
  const IntTensor ids({1, 5, 9, 200, 3, 77, 4, 8}, {2, 4}), targets({5, 9, 200, 3, 77, 4, 8, 1}, {2, 4});
  AdamW opt(m.named_parameters(), AdamWConfig{});
  cross_entropy(m.forward(ids), targets).backward();
  opt.step();
}
}  // namespace

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

TEST_CASE("value head: values [B, T] from the final hidden states, gradients, saved and loaded with the checkpoint, cloned") {
  Rng rng(4);
  DeepSeekModel m(preset("tiny"), rng);
  ValueHead& head = m.add_value_head(rng);
  CHECK_THROWS_AS(m.add_value_head(rng), std::logic_error);
  const IntTensor ids({1, 5, 9, 200, 3, 77, 4, 8}, {2, 4});
  const auto values = [&](DeepSeekModel& model) {
    NoGradGuard ng;
    return model.v_head->forward(model.main->hidden_states(ids));
  };
  const Tensor v = values(m);
  CHECK(v.shape() == Shape{2, 4});
  const Tensor h = [&] {
    NoGradGuard ng;
    return m.main->hidden_states(ids);
  }();
  const auto r = gradcheck_params([&] { return head.forward(h); }, head.named_parameters());
  CHECK(r.ok);
  head.summary.bias.data()[0] = 0.75f;
  test::TempDir dir("ds_value_head");
  const std::string folder = dir.file("ckpt");
  write_folder_atomic(folder, [&](const std::string& tmp) { write_model_files(tmp, m, nullptr); });
  LoadedModel back = load_model(folder);
  REQUIRE(back.model->v_head);
  CHECK(test::max_abs_diff(values(m), values(*back.model)) == 0.f);
  CHECK(test::max_abs_diff(logits_of(m, ids), logits_of(*back.model, ids)) == 0.f);
  const auto copy = m.clone();
  REQUIRE(copy->v_head);
  CHECK(test::max_abs_diff(values(m), values(*copy)) == 0.f);
  // a model without one loads without one
  DeepSeekModel plain(preset("tiny"), rng);
  write_folder_atomic(folder, [&](const std::string& tmp) { write_model_files(tmp, plain, nullptr); });
  CHECK_FALSE(load_model(folder).model->v_head);
}

TEST_CASE("special tokens: the vocabulary grows, old rows and old-token logits are unchanged, a save/load round trip") {
  const std::vector<std::string> docs = {"Once upon a time there was a tiny model.", "It learned to add: 12 + 30 = 42.",
                                         "The model said hello, and the user said hello back."};
  Tokenizer tok = Tokenizer::train(docs, 300);
  DeepSeekConfig cfg = preset("tiny");
  cfg.vocab_size = tok.vocab_size();
  Rng rng(5);
  DeepSeekModel m(cfg, rng);
  const Tensor embed_before = m.main->embed_tokens.weight.clone(), head_before = m.main->lm_head.clone();
  const std::vector<int32_t> old_ids = tok.encode("The model said 42.");
  const auto n = static_cast<int64_t>(old_ids.size());
  const Tensor logits_before = logits_of(m, IntTensor(old_ids, {1, n}));

  const std::vector<std::string> specials = {"<think>", "</think>", "<answer>", "</answer>", "<|User|>", "<|Assistant|>"};
  const std::vector<int32_t> ids = add_special_tokens(m, tok, specials, rng);
  const int64_t v0 = cfg.vocab_size, v1 = v0 + 6;
  CHECK(ids == std::vector<int32_t>{static_cast<int32_t>(v0), static_cast<int32_t>(v0 + 1), static_cast<int32_t>(v0 + 2),
                                    static_cast<int32_t>(v0 + 3), static_cast<int32_t>(v0 + 4), static_cast<int32_t>(v0 + 5)});
  CHECK(m.vocab_size() == v1);
  CHECK(m.config().vocab_size == v1);
  CHECK(m.main->embed_tokens.weight.shape() == Shape{v1, 64});
  CHECK(m.main->lm_head.shape() == Shape{v1, 64});
  const auto row_bits_equal = [](const Tensor& grown, const Tensor& old) {
    return std::equal(old.data(), old.data() + old.numel(), grown.data(), [](float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; });
  };
  CHECK(row_bits_equal(m.main->embed_tokens.weight, embed_before));
  CHECK(row_bits_equal(m.main->lm_head, head_before));
  double sq = 0;   // new rows drawn as at initialisation: normal(0, 0.02)
  for (int64_t i = v0 * 64; i < v1 * 64; ++i) sq += std::pow(m.main->embed_tokens.weight.data()[i], 2);
  CHECK(std::sqrt(sq / (6 * 64)) == doctest::Approx(cfg.initializer_range).epsilon(0.25));
  const Tensor logits_after = logits_of(m, IntTensor(old_ids, {1, n}));
  float worst = 0;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < v0; ++j) worst = std::max(worst, std::abs(logits_after.data()[t * v1 + j] - logits_before.data()[t * v0 + j]));
  CHECK(worst < 1e-6f);
  CHECK(tok.encode("<think>12</think>").front() == ids[0]);

  test::TempDir dir("ds_special_tokens");
  const std::string folder = dir.file("ckpt");
  write_folder_atomic(folder, [&](const std::string& tmp) { write_model_files(tmp, m, &tok); });
  LoadedModel back = load_model(folder);
  CHECK(back.model->vocab_size() == v1);
  CHECK(back.tokenizer.vocab_size() == v1);
  CHECK(back.tokenizer.encode("<|User|>hi<|Assistant|>") == tok.encode("<|User|>hi<|Assistant|>"));
  const IntTensor with_new({ids[0], old_ids[0], ids[1], ids[4]}, {1, 4});
  CHECK(test::max_abs_diff(logits_of(m, with_new), logits_of(*back.model, with_new)) == 0.f);
  train_one_step(*back.model);   // the grown model trains like any other
  CHECK_THROWS_AS(m.resize_token_embeddings(v0, rng), std::invalid_argument);
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
