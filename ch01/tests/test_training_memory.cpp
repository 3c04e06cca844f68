#include <doctest/doctest.h>

#include "ch01/training_memory.hpp"

using namespace ds;
using namespace ds::ch01;

TEST_CASE("training memory: bytes per parameter, FP32 AdamW and DeepSeek-V3's BF16 moments") {
  const std::vector<OptimizerRecipe> r = optimizer_recipes();
  REQUIRE(r.size() == 2);
  CHECK(r[0].per_parameter() == 16);   // 4 + 4 + 4 + 4
  CHECK(r[1].per_parameter() == 12);   // FP32 master weights and gradients, BF16 m and v (V3 section 3.3.3)
}

TEST_CASE("training memory: the activation formula, term by term, for DeepSeek-V3") {
  const DeepSeekConfig c = preset("deepseek-v3");
  const int64_t h = 7168, nh = 128;
  const ActivationElements all = activation_elements(c, false), rec = activation_elements(c, true);
  // block input and its norm; c_Q and its norm; kv_a's 576 and c_KV normed; q (192 per head),
  // k_nope (128), v (128), the output (128); one log-sum-exp per head
  CHECK(all.attention == 2 * h + 2 * 1536 + 576 + 512 + nh * 192 + nh * 128 + 2 * nh * 128 + nh);
  CHECK(all.moe_ffn == 2 * h + 256 + 8 * (h + 3 * 2048) + 8 * h + 3 * 2048);
  CHECK(all.dense_ffn == 2 * h + 3 * 18432);
  CHECK(all.head == 2 * h + 129280);
  CHECK(all.main == 61 * all.attention + 3 * all.dense_ffn + 58 * all.moe_ffn + all.head);
  CHECK(all.mtp == 4 * h + all.attention + all.moe_ffn + all.head);
  // Recomputing drops exactly the RMSNorm outputs (x's, c_Q's, c_KV's) and the up-projections'
  // outputs (q, k_nope, v) in attention, and the norm output before the FFN and the head.
  CHECK(all.attention - rec.attention == h + 1536 + 512 + nh * 192 + nh * (128 + 128));
  CHECK(all.moe_ffn - rec.moe_ffn == h);
  CHECK(all.head - rec.head == h);
  // A 4K-token sequence through the main model, BF16: tens of GB with everything stored.
  const double gb = 2.0 * 4096 * static_cast<double>(all.main) / 1e9;
  CHECK(gb > 100);
  CHECK(gb < 200);
}

TEST_CASE("training memory: a model without q_lora_rank keeps its plain q_proj output") {
  DeepSeekConfig c = preset("deepseek-v2-lite");
  const ActivationElements all = activation_elements(c, false), rec = activation_elements(c, true);
  const int64_t h = c.hidden_size, nh = c.num_attention_heads;
  CHECK(all.attention == 2 * h + 576 + 512 + nh * 192 + nh * 128 + 2 * nh * 128 + nh);
  CHECK(all.attention - rec.attention == h + 512 + nh * (128 + 128));
  CHECK(all.mtp == 0);
}

TEST_CASE("training memory: the formula against this repository's own autograd tape") {
  // The tape holds every tensor the formula counts plus the copies its slicing, permuting and
  // concatenating ops make, so the measurement is somewhat above the formula, never far from it.
  for (const std::string& name : {std::string("tiny"), std::string("mini")}) {
    INFO(name);
    const DeepSeekConfig c = preset(name);
    const double measured = measured_activation_bytes_per_token(c, 2, 32, 1), formula = 4.0 * static_cast<double>(activation_elements(c, false).per_token());
    CHECK(measured > 0.8 * formula);
    CHECK(measured < 2.5 * formula);
  }
}
