#include <doctest/doctest.h>

#include <cmath>

#include "ch02/kv_budget.hpp"
#include "ch03/mla.hpp"
#include "ch03/mla_keys.hpp"
#include "common/autograd.hpp"
#include "common/gradcheck.hpp"
#include "common/memory.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"
#include "tiny_mla.hpp"

using namespace ds;
using namespace ds::ch03;


TEST_CASE("mla: Hugging Face names, with and without query compression") {
  Rng rng(1);
  MultiHeadLatentAttention a(tiny_mla(8), rng), b(tiny_mla(0), rng);
  std::vector<std::string> names;
  for (auto& [n, t] : a.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"q_a_proj.weight", "q_a_layernorm.weight", "q_b_proj.weight", "kv_a_proj_with_mqa.weight",
                                          "kv_a_layernorm.weight", "kv_b_proj.weight", "o_proj.weight"});
  CHECK(b.named_parameters().front().first == "q_proj.weight");
  CHECK(a.softmax_scale() == doctest::Approx(1.0 / std::sqrt(8.0)));
}

TEST_CASE("mla: the absorbed path equals the naive path (forward, both query kinds)") {
  for (int64_t q_lora : {8, 0}) {
    Rng rng(2);
    MultiHeadLatentAttention m(tiny_mla(q_lora), rng);
    const Tensor x = randn({2, 7, 16}, rng);
    const Tensor naive = m.forward(x, nullptr);
    m.set_mode(MLAMode::Absorbed);
    CHECK(test::max_abs_diff(m.forward(x, nullptr), naive) < 1e-5f);
  }
}

TEST_CASE("mla: cached decoding equals full recomputation, naive and absorbed") {
  Rng rng(3);
  MultiHeadLatentAttention m(tiny_mla(8), rng);
  const Tensor x = randn({2, 9, 16}, rng);
  NoGradGuard ng;
  const Tensor full = m.forward(x, nullptr);   // naive, no cache
  for (MLAMode mode : {MLAMode::Naive, MLAMode::Absorbed}) {
    m.set_mode(mode);
    auto cache = m.make_cache(2, 9);
    float worst = 0;
    const Tensor first = m.forward(slice(x, 1, 0, 4), cache.get());   // a 4-token prefill
    worst = std::max(worst, test::max_abs_diff(first, slice(full, 1, 0, 4)));
    for (int64_t p = 4; p < 9; ++p) worst = std::max(worst, test::max_abs_diff(m.forward(slice(x, 1, p, p + 1), cache.get()), slice(full, 1, p, p + 1)));
    CHECK(worst < 1e-5f);
    CHECK(cache->length() == 9);
  }
}

TEST_CASE("mla: the absorbed cache holds kv_lora_rank + rope numbers per token, the naive one per-head K and V") {
  Rng rng(4);
  const MLAConfig c = tiny_mla(8);
  MultiHeadLatentAttention m(c, rng, MLAMode::Absorbed);
  const int64_t before = memory::live_bytes();
  auto latent = m.make_cache(3, 10);
  CHECK(memory::live_bytes() - before == 3 * 10 * (6 + 4) * 4);
  m.set_mode(MLAMode::Naive);
  CHECK(m.make_cache(3, 10)->bytes() == 3 * 10 * 2 * (4 + 4 + 3) * 4);   // K: nope + rope, V: v_head_dim, per head
  CHECK(latent->bytes() == 3 * 10 * mla_cache_elements_per_token(c) * 4);
}

TEST_CASE("mla: DeepSeek-V3's cache per token, against the MHA it replaces (DeepSeek-V2 Table 1)") {
  MLAConfig v3;
  v3.kv_lora_rank = 512;
  v3.qk_rope_head_dim = 64;
  CHECK(mla_cache_elements_per_token(v3) * 61 == 35136);
  // MHA: 2 x 128 heads x 128 dims x 61 layers = 1,998,848 elements, i.e. 3,997,696 bytes in BF16
  const auto& mha = ch02::attention_preset("deepseek-v3-mha");
  CHECK(ch02::kv_bytes_per_token(mha, 128, 1) == 1998848);
  CHECK(ch02::kv_bytes_per_token(mha, 128, 2) == 3997696);
}

TEST_CASE("mla: gradients for the input and every weight, both paths, also through a left-padded batch") {
  // padded: masked keys and a RoPE position per token (row 0 starts at column 2)
  const ch02::Padding pad = ch02::make_padding(IntTensor({0, 0, 1, 1, 1, 1, 1, 1}, {2, 4}), 4);
  for (bool padded : {false, true})
    for (MLAMode mode : {MLAMode::Naive, MLAMode::Absorbed}) {
      CAPTURE(padded);
      CAPTURE(static_cast<int>(mode));
      Rng rng(5);
      MultiHeadLatentAttention m(tiny_mla(8), rng, mode);
      const Tensor x = randn({padded ? 2 : 1, 4, 16}, rng);
      const ch02::Padding* p = padded ? &pad : nullptr;
      const auto wrt_x = gradcheck([&](const std::vector<Tensor>& in) { return m.forward(in[0], nullptr, p); }, {x});
      CHECK_MESSAGE(wrt_x.ok, wrt_x.worst);
      const auto wrt_w = gradcheck_params([&] { return m.forward(x, nullptr, p); }, m.named_parameters());
      CHECK_MESSAGE(wrt_w.ok, wrt_w.worst);
    }
}

namespace {
// Gradients of sum(out * r) with respect to x and every weight, in registration order.
std::vector<Tensor> mla_grads(MultiHeadLatentAttention& m, const Tensor& x0, const ch02::Padding* p) {
  m.zero_grad();
  Tensor x = x0.clone().requires_grad_();
  const Tensor out = m.forward(x, nullptr, p);
  sum(mul(out, test::rnd(out.shape(), 17))).backward();
  std::vector<Tensor> g{x.grad()};
  for (const auto& t : m.parameters()) g.push_back(t.grad().clone());
  return g;
}
}  // namespace

TEST_CASE("mla: recomputing the norms and up-projections (V3 section 3.2.3) changes no gradient, bit for bit") {
  const ch02::Padding pad = ch02::make_padding(IntTensor({0, 0, 1, 1, 1, 1, 1, 1}, {2, 4}), 4);
  for (int64_t q_lora : {8, 0})
    for (bool padded : {false, true}) {
      CAPTURE(q_lora);
      CAPTURE(padded);
      Rng rng(5);
      MultiHeadLatentAttention m(tiny_mla(q_lora), rng);
      const Tensor x = randn({2, 4, 16}, rng);
      const ch02::Padding* p = padded ? &pad : nullptr;
      const auto plain = mla_grads(m, x, p);
      m.recompute = true;
      const auto again = mla_grads(m, x, p);
      REQUIRE(again.size() == plain.size());
      for (size_t i = 0; i < plain.size(); ++i) {
        CAPTURE(i);
        CHECK(test::max_abs_diff(again[i], plain[i]) == 0.f);
      }
      const auto wrt_w = gradcheck_params([&] { return m.forward(x, nullptr, p); }, m.named_parameters());
      CHECK_MESSAGE(wrt_w.ok, wrt_w.worst);
      const auto wrt_x = gradcheck([&](const std::vector<Tensor>& in) { return m.forward(in[0], nullptr, p); }, {x});
      CHECK_MESSAGE(wrt_x.ok, wrt_x.worst);
    }
}

TEST_CASE("mla_keys: equals slicing k^C out, broadcasting k^R to the heads and concatenating, and its gradients") {
  Rng rng(11);
  const Tensor kvb = randn({2, 3, 4, 7}, rng), k_pe = randn({2, 3, 2}, rng);   // 4 heads, nope 5 + dv 2, rope 2
  const Tensor by_parts = concat({slice(kvb, 3, 0, 5), broadcast_to(reshape(k_pe, {2, 3, 1, 2}), {2, 3, 4, 2})}, 3);
  CHECK(test::max_abs_diff(mla_keys(kvb, k_pe, 5), by_parts) == 0.f);
  CHECK_GRAD([](auto& v) { return mla_keys(v[0], v[1], 5); }, (std::vector<Tensor>{kvb, k_pe}));
  CHECK_THROWS_AS(mla_keys(kvb, randn({2, 4, 2}, rng), 5), std::invalid_argument);   // k_pe for other tokens
  CHECK_THROWS_AS(mla_keys(kvb, k_pe, 8), std::invalid_argument);                    // nope wider than the head
}
