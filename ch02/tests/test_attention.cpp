#include <doctest/doctest.h>

#include <cmath>

#include "ch02/attention.hpp"
#include "common/autograd.hpp"
#include "common/gradcheck.hpp"
#include "common/ops.hpp"
#include "test_helpers_ch02.hpp"

using namespace ds;
using namespace ds::ch02;

TEST_CASE("self-attention steps: causal weights, rows sum to one, output = weights v") {
  Rng rng(1);
  const Tensor x = randn({4, 6}, rng), wq = randn({3, 6}, rng), wk = randn({3, 6}, rng), wv = randn({3, 6}, rng);
  const AttentionSteps s = self_attention_steps(x, wq, wk, wv);
  for (int i = 0; i < 4; ++i) {
    float row = 0;
    for (int j = 0; j < 4; ++j) {
      row += s.weights.data()[i * 4 + j];
      if (j > i) CHECK(s.weights.data()[i * 4 + j] == 0.f);
    }
    CHECK(row == doctest::Approx(1.0));
  }
  // the fused op computes the same thing
  const Tensor fused = scaled_dot_product_attention(reshape(s.q, {1, 1, 4, 3}), reshape(s.k, {1, 1, 4, 3}), reshape(s.v, {1, 1, 4, 3}));
  for (int i = 0; i < 12; ++i) CHECK(fused.data()[i] == doctest::Approx(s.output.data()[i]).epsilon(1e-5));
}

TEST_CASE("GQA equals MHA whose K/V heads repeat each group's weights") {
  Rng r1(3), r2(4);
  AttentionConfig gqa_cfg{16, 4, 2, false, 0.3f}, mha_cfg{16, 4, 4, false, 0.3f};
  MultiHeadAttention gqa(gqa_cfg, r1), mha(mha_cfg, r2);
  mha.q_proj.weight.copy_(gqa.q_proj.weight);
  mha.o_proj.weight.copy_(gqa.o_proj.weight);
  const int64_t d = 4;
  for (int64_t h = 0; h < 4; ++h)   // query head h uses kv head h / 2
    for (int64_t r = 0; r < d; ++r)
      for (int64_t c = 0; c < 16; ++c) {
        mha.k_proj.weight.data()[(h * d + r) * 16 + c] = gqa.k_proj.weight.data()[((h / 2) * d + r) * 16 + c];
        mha.v_proj.weight.data()[(h * d + r) * 16 + c] = gqa.v_proj.weight.data()[((h / 2) * d + r) * 16 + c];
      }
  const Tensor x = randn({2, 5, 16}, r1);
  const Tensor a = gqa.forward(x, nullptr), b = mha.forward(x, nullptr);
  float worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
  CHECK(worst < 1e-5f);
  CHECK(gqa.num_parameters() < mha.num_parameters());
}

TEST_CASE("multi-head attention layer: gradients for the input and every weight (MHA, GQA, MQA)") {
  for (int64_t kv : {4, 2, 1}) {
    CAPTURE(kv);
    Rng rng(5);
    MultiHeadAttention layer(AttentionConfig{8, 4, kv, kv == 4, 0.3f}, rng);
    const Tensor x = randn({2, 3, 8}, rng);
    const auto wrt_x = gradcheck([&](const std::vector<Tensor>& in) { return layer.forward(in[0], nullptr); }, {x});
    CHECK_MESSAGE(wrt_x.ok, wrt_x.worst);
    const auto wrt_w = gradcheck_params([&] { return layer.forward(x, nullptr); }, layer.named_parameters());
    CHECK_MESSAGE(wrt_w.ok, wrt_w.worst);
  }
}

TEST_CASE("attention config errors are one sentence") {
  Rng rng(1);
  CHECK_THROWS_WITH_AS(MultiHeadAttention(AttentionConfig{16, 4, 3, false, 0.02f}, rng),
                       "attention: hidden_size must divide into num_heads, and num_heads into num_kv_heads groups (got 16, 4, 3)",
                       std::invalid_argument);
}
