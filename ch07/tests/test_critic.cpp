#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ch06/checkpoint.hpp"
#include "ch07/critic.hpp"
#include "ch07/special_tokens.hpp"
#include "common/autograd.hpp"
#include "common/gradcheck.hpp"
#include "common/ops.hpp"
#include "common/optim.hpp"
#include "ch06/tests/model_steps.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch07;
using ch06::DeepSeekConfig;
using ch06::DeepSeekModel;
using ch06::LoadedModel;
using ch06::load_model;
using ch06::write_folder_atomic;
using ch06::write_model_files;

using ds::ch06::model_steps::logits_of;
using ds::ch06::model_steps::train_one_step;

TEST_CASE("critic: values [B, T] from the policy copy's final hidden states, gradients, saved and loaded with the checkpoint") {
  const Tokenizer tok = Tokenizer::train({"a tiny corpus for a tiny tokenizer"}, 260);
  DeepSeekConfig cfg = preset("tiny");
  cfg.vocab_size = tok.vocab_size();
  Rng rng(4);
  DeepSeekModel m(cfg, rng);
  Critic critic(m, rng);
  const IntTensor ids({1, 5, 9, 200, 3, 77, 4, 8}, {2, 4});
  const auto values = [&](Critic& c) {
    NoGradGuard ng;
    return c.values(ids);
  };
  const Tensor v = values(critic);
  CHECK(v.shape() == Shape{2, 4});
  CHECK(test::max_abs_diff(logits_of(m, ids), logits_of(*critic.model, ids)) == 0.f);   // the trunk is the policy's
  const Tensor h = [&] {
    NoGradGuard ng;
    return critic.model->main->hidden_states(ids);
  }();
  const auto r = gradcheck_params([&] { return critic.v_head.forward(h); }, critic.v_head.named_parameters());
  CHECK(r.ok);
  const NamedTensors names = critic.named_parameters();
  CHECK(names[names.size() - 2].first == "v_head.summary.weight");   // TRL's layout, after the model's own names
  CHECK(names.back().first == "v_head.summary.bias");
  CHECK(names.front().first == m.named_parameters().front().first);
  critic.v_head.summary.bias.data()[0] = 0.75f;
  test::TempDir dir("ds_critic");
  const std::string folder = dir.file("ckpt");
  save_critic(folder, critic, tok);
  const std::unique_ptr<Critic> back = load_critic(folder);
  CHECK(test::max_abs_diff(values(critic), values(*back)) == 0.f);
  CHECK(test::max_abs_diff(logits_of(*critic.model, ids), logits_of(*back->model, ids)) == 0.f);
  CHECK_THROWS_AS(ch06::load_model(folder), std::runtime_error);   // a plain model load names the unknown head tensors
  // a policy checkpoint is not a critic
  ch06::write_folder_atomic(folder, [&](const std::string& tmp) { ch06::write_model_files(tmp, m, nullptr); });
  CHECK_THROWS_WITH_AS(load_critic(folder), doctest::Contains("without a value head"), std::runtime_error);
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

