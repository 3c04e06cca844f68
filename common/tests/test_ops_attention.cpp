#include <cmath>

#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

namespace {
// One attention configuration: shapes ([B, H, T, D] or seq_major [B, T, H, D]) and options.
struct Case {
  const char* name;
  int64_t b, h, hkv, t, s, d, dv;
  bool causal = true, seq_major = false, latent = false, pad = false;
  int64_t q_offset = -1, kv_len = -1;
  float scale = 0.f;
};

// The output and the gradients of q, k (and v) under a random projection of the output as the
// loss, from the fused op or from its plain reference.
std::vector<Tensor> run_case(const Case& c, bool reference) {
  const auto shape = [&](int64_t heads, int64_t len, int64_t width) {
    return c.seq_major ? Shape{c.b, len, heads, width} : Shape{c.b, heads, len, width};
  };
  std::vector<Tensor> in = {rnd(shape(c.h, c.t, c.d), 60), rnd(shape(c.hkv, c.s, c.d), 61)};
  if (!c.latent) in.push_back(rnd(shape(c.hkv, c.s, c.dv), 62));
  for (Tensor& x : in) x.requires_grad_();
  IntTensor valid(std::vector<int32_t>(static_cast<size_t>(c.b * c.s), 1), {c.b, c.s});
  for (int64_t j = 0; j < 3; ++j) valid.data[static_cast<size_t>(j)] = 0;   // batch 0's first 3 keys are padding
  AttentionOptions opt;
  opt.causal = c.causal;
  opt.seq_major = c.seq_major;
  opt.q_offset = c.q_offset;
  opt.kv_len = c.kv_len;
  opt.scale = c.scale;
  if (c.pad) opt.key_valid = &valid;
  const Tensor out = c.latent ? (reference ? latent_attention_reference(in[0], in[1], c.dv, opt) : latent_attention(in[0], in[1], c.dv, opt))
                              : (reference ? attention_reference(in[0], in[1], in[2], opt) : scaled_dot_product_attention(in[0], in[1], in[2], opt));
  sum(mul(out, rnd(out.shape(), 63))).backward();
  std::vector<Tensor> result = {out.detach()};
  for (const Tensor& x : in) result.push_back(x.grad());
  return result;
}
}  // namespace

TEST_CASE("attention: fused equals the plain reference across options, values and gradients") {
  // Bands of 32 query rows are used whenever the mask is causal without padding: T = 70 is
  // bands of 32, 32 and 6; 40 queries after 50 cached keys start mid-sequence.
  const std::vector<Case> cases = {
      {"MHA, causal bands", 2, 2, 2, 70, 70, 6, 5},
      {"GQA, bands after 50 cached keys", 2, 4, 2, 40, 90, 6, 5},
      {"MQA, not causal, scale 0.3", 2, 4, 1, 5, 9, 4, 3, false, false, false, false, -1, -1, 0.3f},
      {"padding (3 queries see no key)", 2, 2, 1, 37, 37, 4, 4, true, false, false, true},
      {"padding, not causal", 2, 2, 2, 6, 6, 4, 4, false, false, false, true},
      {"kv_len: 9 of 12 cached keys", 2, 2, 1, 3, 12, 4, 3, true, false, false, false, -1, 9},
      {"explicit q_offset", 1, 2, 2, 3, 10, 4, 3, true, false, false, false, 2},
      {"seq_major GQA, bands", 2, 4, 2, 40, 40, 6, 5, true, true},
      {"latent, seq_major, kv_len", 2, 4, 1, 5, 11, 6, 4, true, true, true, false, -1, 8},
      {"latent, bands", 1, 2, 1, 45, 45, 6, 4, true, false, true}};
  for (const Case& c : cases) {
    const std::vector<Tensor> fused = run_case(c, false), plain = run_case(c, true);
    for (size_t i = 0; i < fused.size(); ++i) {
      INFO(std::string(c.name) << ", tensor " << i << " (0 output, then the gradients of q, k, v)");
      CHECK(test::max_abs_diff(fused[i], plain[i]) < 1e-4f);
    }
  }
}

TEST_CASE("attention: causal weights are lower-triangular rows summing to one") {
  const Tensor w = attention_weights(rnd({1, 1, 4, 8}, 7), rnd({1, 1, 4, 8}, 8));
  for (int i = 0; i < 4; ++i) {
    float s = 0;
    for (int j = 0; j < 4; ++j) {
      s += w.data()[i * 4 + j];
      if (j > i) CHECK(w.data()[i * 4 + j] == 0.f);
    }
    CHECK(s == doctest::Approx(1.0));
  }
}

TEST_CASE("attention: padded keys get no weight, fully padded rows give zeros") {
  IntTensor valid({0, 1, 1, 1}, {1, 4});
  AttentionOptions opt;
  opt.key_valid = &valid;
  const Tensor q = rnd({1, 1, 4, 8}, 9), k = rnd({1, 1, 4, 8}, 10), v = rnd({1, 1, 4, 3}, 11);
  const Tensor w = attention_weights(q, k, opt);
  for (int i = 0; i < 4; ++i) CHECK(w.data()[i * 4] == 0.f);
  const Tensor o = scaled_dot_product_attention(q, k, v, opt);
  for (int j = 0; j < 3; ++j) CHECK(o.data()[j] == 0.f);
}

TEST_CASE("attention: finite-difference gradients through two causal bands") {
  CHECK_GRAD([](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
             (std::vector<Tensor>{rnd({1, 1, 40, 3}, 44), rnd({1, 1, 40, 3}, 45), rnd({1, 1, 40, 2}, 46)}));
}

TEST_CASE("attention: seq_major reads [B, T, H, D] in place and equals the [B, H, T, D] op, values and gradients") {
  // GQA with 40 queries (two bands), then latent attention (V inside K) after 3 cached positions
  for (const bool latent : {false, true}) {
    const int64_t t = latent ? 5 : 40, s = latent ? 8 : 40, hkv = latent ? 1 : 2;
    const Tensor q = rnd({2, 4, t, 6}, 50), k = rnd({2, hkv, s, 6}, 51), v = rnd({2, hkv, s, 5}, 52), w = rnd({2, 4, t, latent ? 4 : 5}, 53);
    std::vector<Tensor> result[2];
    for (const bool seq_major : {false, true}) {
      AttentionOptions opt;
      opt.seq_major = seq_major;
      const auto to_layout = [&](const Tensor& x) { return seq_major ? permute(x, {0, 2, 1, 3}) : x; };
      std::vector<Tensor> in = {to_layout(q).clone(), to_layout(k).clone(), to_layout(v).clone()};
      for (Tensor& x : in) x.requires_grad_();
      Tensor out = latent ? latent_attention(in[0], in[1], 4, opt) : scaled_dot_product_attention(in[0], in[1], in[2], opt);
      if (seq_major) out = permute(out, {0, 2, 1, 3});
      sum(mul(out, w)).backward();
      result[seq_major] = {out.detach(), to_layout(in[0].grad()), to_layout(in[1].grad())};
      if (!latent) result[seq_major].push_back(to_layout(in[2].grad()));
    }
    for (size_t i = 0; i < result[0].size(); ++i) CHECK(test::max_abs_diff(result[0][i], result[1][i]) < 1e-5f);
  }
  AttentionOptions sm;
  sm.seq_major = true;
  CHECK_GRAD([sm](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2], sm); },
             (std::vector<Tensor>{rnd({1, 3, 4, 4}, 54), rnd({1, 3, 2, 4}, 55), rnd({1, 3, 2, 3}, 56)}));
}

TEST_CASE("attention: gradients for MHA, GQA, non-causal, offset and different value dim") {
  CHECK_GRAD([](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
             (std::vector<Tensor>{rnd({2, 2, 4, 6}, 1), rnd({2, 2, 4, 6}, 2), rnd({2, 2, 4, 5}, 3)}));
  CHECK_GRAD([](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
             (std::vector<Tensor>{rnd({1, 4, 3, 4}, 4), rnd({1, 2, 3, 4}, 5), rnd({1, 2, 3, 4}, 6)}));
  AttentionOptions full;
  full.causal = false;
  full.scale = 0.3f;
  CHECK_GRAD([full](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2], full); },
             (std::vector<Tensor>{rnd({1, 2, 3, 4}, 7), rnd({1, 1, 5, 4}, 8), rnd({1, 1, 5, 2}, 9)}));
  CHECK_GRAD([](auto& x) { return scaled_dot_product_attention(x[0], x[1], x[2]); },
             (std::vector<Tensor>{rnd({1, 2, 2, 4}, 10), rnd({1, 2, 6, 4}, 11), rnd({1, 2, 6, 4}, 12)}));
}

TEST_CASE("attention: shape errors name both shapes") {
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(rnd({1, 3, 2, 4}, 1), rnd({1, 2, 2, 4}, 2), rnd({1, 2, 2, 4}, 3)),
                       "attention: query heads must be a multiple of key/value heads (got [1, 3, 2, 4] and [1, 2, 2, 4])",
                       std::invalid_argument);
  CHECK_THROWS_AS(scaled_dot_product_attention(rnd({1, 2, 5, 4}, 1), rnd({1, 2, 3, 4}, 2), rnd({1, 2, 3, 4}, 3)), std::invalid_argument);
}

TEST_CASE("attention: kv_len reads only the filled part of a preallocated cache") {
  const Tensor q = rnd({2, 2, 1, 4}, 20), k = rnd({2, 1, 5, 4}, 21), v = rnd({2, 1, 5, 3}, 22);
  Tensor kc = Tensor::full({2, 1, 8, 4}, 99.f), vc = Tensor::full({2, 1, 8, 3}, 99.f);   // garbage past 5
  for (int64_t b = 0; b < 2; ++b) {
    std::copy(k.data() + b * 20, k.data() + b * 20 + 20, kc.data() + b * 32);
    std::copy(v.data() + b * 15, v.data() + b * 15 + 15, vc.data() + b * 24);
  }
  AttentionOptions opt;
  opt.kv_len = 5;
  CHECK(test::max_abs_diff(scaled_dot_product_attention(q, kc, vc, opt), scaled_dot_product_attention(q, k, v)) < 1e-6f);
  opt.kv_len = 9;
  CHECK_THROWS_AS(scaled_dot_product_attention(q, kc, vc, opt), std::invalid_argument);
}

TEST_CASE("latent_attention: values are the keys' leading columns, equals attention with v copied, gradients") {
  const Tensor q = rnd({2, 4, 3, 6}, 30), kv = rnd({2, 1, 5, 6}, 31);
  const Tensor v = slice(kv, 3, 0, 4);
  CHECK(test::max_abs_diff(latent_attention(q, kv, 4), scaled_dot_product_attention(q, kv, v)) < 1e-6f);
  CHECK_GRAD([](auto& x) { return latent_attention(x[0], x[1], 4); }, (std::vector<Tensor>{q, kv}));
  AttentionOptions opt;
  opt.kv_len = 3;
  opt.scale = 0.7f;
  CHECK_GRAD([opt](auto& x) { return latent_attention(x[0], x[1], 2, opt); }, (std::vector<Tensor>{rnd({1, 2, 2, 5}, 32), rnd({1, 1, 4, 5}, 33)}));
  CHECK_THROWS_AS(latent_attention(q, kv, 7), std::invalid_argument);
}
