#include <array>
#include <cmath>

#include "common/ops.hpp"
#include "test_helpers.hpp"

using namespace ds;
using test::rnd;

namespace {
// The textbook composition: scores, mask, softmax, weighted sum (no fusion, no GQA tricks), one
// autograd op at a time.
Tensor reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t q_offset) {
  const int64_t b = q.size(0), h = q.size(1), t = q.size(2), d = q.size(3), hkv = k.size(1), s = k.size(2), dv = v.size(3);
  std::vector<Tensor> heads;   // differentiable, so tests can compare gradients too
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi) {
      const int64_t hk = hi / (h / hkv);
      Tensor qh = reshape(slice(slice(q, 0, bi, bi + 1), 1, hi, hi + 1), {t, d});
      Tensor kh = reshape(slice(slice(k, 0, bi, bi + 1), 1, hk, hk + 1), {s, d});
      Tensor vh = reshape(slice(slice(v, 0, bi, bi + 1), 1, hk, hk + 1), {s, dv});
      Tensor sc = mul_scalar(matmul(qh, transpose(kh, 0, 1)), 1.f / std::sqrt(static_cast<float>(d)));
      Tensor mask = Tensor::zeros({t, s});
      for (int64_t i = 0; i < t; ++i)
        for (int64_t j = q_offset + i + 1; j < s; ++j) mask.data()[i * s + j] = -1e30f;
      Tensor o = matmul(softmax(add(sc, mask)), vh);
      heads.push_back(reshape(o, {1, t, dv}));
    }
  return reshape(concat(heads, 0), {b, h, t, dv});
}
}  // namespace

TEST_CASE("attention: fused equals the textbook composition (MHA, GQA, MQA, decoding offset)") {
  for (int64_t hkv : {4, 2, 1}) {
    const Tensor q = rnd({2, 4, 5, 8}, 1), k = rnd({2, hkv, 5, 8}, 2), v = rnd({2, hkv, 5, 6}, 3);
    CHECK(test::max_abs_diff(scaled_dot_product_attention(q, k, v), reference_attention(q, k, v, 0)) < 1e-5f);
  }
  // two new queries against seven cached keys: query 0 sits at position 5
  const Tensor q = rnd({1, 2, 2, 4}, 4), k = rnd({1, 2, 7, 4}, 5), v = rnd({1, 2, 7, 4}, 6);
  CHECK(test::max_abs_diff(scaled_dot_product_attention(q, k, v), reference_attention(q, k, v, 5)) < 1e-5f);
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

TEST_CASE("attention: causal query bands (T longer than one band) equal the textbook composition, values and gradients") {
  // 75 queries: bands of 32, 32 and 11 rows; then 40 queries after 50 cached keys
  for (const auto& [t, s, offset] : std::vector<std::array<int64_t, 3>>{{75, 75, 0}, {40, 90, 50}}) {
    Tensor q = rnd({2, 2, t, 6}, 40), k = rnd({2, 1, s, 6}, 41), v = rnd({2, 1, s, 5}, 42);
    const Tensor w = rnd({2, 2, t, 5}, 43);   // a random projection of the output, as the loss
    std::vector<Tensor> grads[2];
    for (int pass = 0; pass < 2; ++pass) {
      for (Tensor* x : {&q, &k, &v}) {
        *x = x->detach();
        x->requires_grad_();
      }
      const Tensor out = pass == 0 ? scaled_dot_product_attention(q, k, v) : reference_attention(q, k, v, offset);
      sum(mul(out, w)).backward();
      grads[pass] = {out.detach(), q.grad(), k.grad(), v.grad()};
    }
    for (size_t i = 0; i < 4; ++i) CHECK(test::max_abs_diff(grads[0][i], grads[1][i]) < 1e-4f);
  }
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
