#include <doctest/doctest.h>

#include "ch02/kv_cache.hpp"
#include "ch02/tests/generation_checks.hpp"
#include "ch03/mla_model.hpp"
#include "tiny_mla.hpp"

using namespace ds;
using namespace ds::ch03;

namespace {
std::unique_ptr<ch02::TransformerLM> tiny_mla_model(int64_t q_lora, uint64_t seed) {
  ch02::LMConfig lm;
  lm.vocab_size = 60;
  lm.hidden_size = 16;
  lm.num_layers = 2;
  lm.max_position_embeddings = 64;
  lm.init_std = 0.2f;
  Rng rng(seed);
  return make_mla_model(lm, tiny_mla(q_lora), 32, rng);
}
}  // namespace

TEST_CASE("mla model: a left-padded row has the row's logits (RoPE from its first real token), naive and absorbed") {
  for (int64_t q_lora : {8, 0}) {
    auto model = tiny_mla_model(q_lora, 1);
    const auto prompts = ch02::test::mixed_prompts(60);
    for (auto mode : {MLAMode::Naive, MLAMode::Absorbed}) {
      set_mla_mode(*model, mode);
      CAPTURE(q_lora);
      CAPTURE(static_cast<int>(mode));
      CHECK(ch02::test::padded_logits_gap(*model, prompts, false) < 1e-5f);
      CHECK(ch02::test::padded_logits_gap(*model, prompts, true) < 1e-5f);
    }
  }
}

TEST_CASE("mla model: a padded row caches the keys it caches alone, so RoPE counts from its first real token") {
  // RoPE's scores depend only on position offsets, so logits alone would not show a shifted
  // row; the rotated keys in the cache do.
  auto model = tiny_mla_model(8, 3);
  const auto prompts = ch02::test::mixed_prompts(60);
  const ch02::LeftPadded batch = ch02::left_pad(prompts);
  const int64_t p = batch.ids.size(1);
  for (auto mode : {MLAMode::Naive, MLAMode::Absorbed}) {
    set_mla_mode(*model, mode);
    NoGradGuard ng;
    ch02::Caches caches = model->make_caches(4, p);
    model->forward(batch.ids, &caches, {&batch.attention_mask});
    // one cache row [B, heads, capacity, width]: the KV cache's keys or the latent
    const auto rows = [mode](const ch02::Caches& c) {
      return mode == MLAMode::Naive ? dynamic_cast<const ch02::KVCache&>(*c[0]).keys() : dynamic_cast<const LatentCache&>(*c[0]).latent();
    };
    const Tensor all = rows(caches);
    const int64_t heads = all.size(1), w = all.size(3);
    float worst = 0;
    for (int64_t r = 0; r < 4; ++r) {
      const auto& ids = prompts[static_cast<size_t>(r)];
      const auto n = static_cast<int64_t>(ids.size());
      ch02::Caches own = model->make_caches(1, n);
      model->forward(IntTensor(ids, {1, n}), &own);
      const Tensor alone = rows(own);
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t j = 0; j < n * w; ++j)
          worst = std::max(worst, std::abs(alone.data()[h * n * w + j] - all.data()[((r * heads + h) * p + p - n) * w + j]));
    }
    CAPTURE(static_cast<int>(mode));
    CHECK(worst < 1e-6f);
  }
}

TEST_CASE("mla model: batched generation equals one-by-one generation, naive and absorbed, cached or not") {
  auto model = tiny_mla_model(8, 2);
  const auto prompts = ch02::test::mixed_prompts(60);
  const auto configs = ch02::test::sampling_configs(10, 7);
  for (auto mode : {MLAMode::Naive, MLAMode::Absorbed}) {
    CAPTURE(static_cast<int>(mode));
    set_mla_mode(*model, mode);
    ch02::test::check_batched_generation(*model, prompts, configs);
    const ch02::Generation g = ch02::generate(*model, prompts, configs[2]);
    CHECK(ch02::test::logprob_recompute_gap(*model, prompts, g) < 1e-4f);
  }
}
