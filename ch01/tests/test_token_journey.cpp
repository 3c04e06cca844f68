#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>

#include "ch01/token_journey.hpp"
#include "ch03/mla.hpp"
#include "ch04/moe.hpp"
#include "common/autograd.hpp"

using namespace ds;
using namespace ds::ch01;

namespace {
// A mini model whose routing biases are not zero, so noaux_tc's choice (by s + b) differs from
// the plain top-k of s and the test can tell them apart.
std::unique_ptr<ch06::DeepSeekModel> mini_model() {
  Rng rng(7);
  auto m = std::make_unique<ch06::DeepSeekModel>(preset("mini"), rng);
  for (ch04::MoE* moe : m->moe_layers())
    for (int64_t e = 0; e < moe->gate.e_score_correction_bias.numel(); ++e)
      moe->gate.e_score_correction_bias.data()[e] = 0.02f * static_cast<float>((e * 7) % 5 - 2);
  return m;
}

const std::vector<int32_t> kIds = {17, 300, 5, 911, 42, 42, 640, 2, 1000, 77, 256};

double max_abs_diff(const float* a, const float* b, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  return worst;
}
}  // namespace

TEST_CASE("token journey: its logits and top-5 equal model.forward's") {
  auto model = mini_model();
  const Journey j = trace_journey(*model, kIds);
  const int64_t t = static_cast<int64_t>(kIds.size()), v = model->vocab_size();
  NoGradGuard ng;
  // The same path (absorbed MLA, prefilled caches): the same numbers, bit for bit.
  ch02::Caches caches = model->make_caches(1, model->max_positions());
  const Tensor cached = model->forward(IntTensor(kIds, {1, t}), &caches);
  REQUIRE(cached.shape() == j.logits.shape());
  CHECK(max_abs_diff(cached.data(), j.logits.data(), cached.numel()) == 0.0);
  // Training's path (naive MLA, no cache): the same function, to float32 rounding.
  model->set_mla_mode(ch03::MLAMode::Naive);
  const Tensor plain = model->forward(IntTensor(kIds, {1, t}));
  CHECK(max_abs_diff(plain.data(), j.logits.data(), plain.numel()) < 1e-4);
  std::vector<int32_t> ids;
  std::vector<double> probs;
  top_k_softmax(plain.data() + (t - 1) * v, v, 5, ids, probs);
  CHECK(ids == j.top_ids);
  REQUIRE(j.top_probs.size() == 5);
  for (size_t i = 0; i < 5; ++i) CHECK(probs[i] == doctest::Approx(j.top_probs[i]).epsilon(1e-4));
  for (size_t i = 1; i < 5; ++i) CHECK(j.top_probs[i] <= j.top_probs[i - 1]);
}

TEST_CASE("token journey: each MoE layer's experts are the ones the gate chose in model.forward") {
  auto model = mini_model();
  const Journey j = trace_journey(*model, kIds);
  const int64_t t = static_cast<int64_t>(kIds.size());
  const std::vector<ch04::MoE*> moe = model->moe_layers();   // the main model's, then the MTP module's
  ch04::RoutingLog log(moe);
  {
    NoGradGuard ng;   // the same path as the journey (absorbed MLA, caches), so the same routing
    ch02::Caches caches = model->make_caches(1, model->max_positions());
    model->forward(IntTensor(kIds, {1, t}), &caches);
  }
  int checked = 0, bias_mattered = 0;
  for (const LayerStop& s : j.layers) {
    if (!s.moe) continue;
    INFO("layer " << s.layer);
    const ch04::Routing& r = log.entries(static_cast<size_t>(checked)).back().routing;
    const int64_t k = r.experts.size(1);
    const std::vector<int32_t> used(r.experts.data.begin() + (t - 1) * k, r.experts.data.begin() + t * k);
    CHECK(s.router.experts == used);
    for (int64_t i = 0; i < k; ++i) CHECK(s.router.weights[static_cast<size_t>(i)] == doctest::Approx(r.weights.data()[(t - 1) * k + i]));
    // And they are the noaux_tc choice by s + b (ch04's select_experts), which here differs from top-k of s alone.
    const ch04::GateConfig& g = moe[static_cast<size_t>(checked)]->gate.config();
    CHECK(ch04::select_experts(s.router.scores, s.router.bias, g) == s.router.experts);
    bias_mattered += ch04::select_experts(s.router.scores, {}, g) != s.router.experts;
    ++checked;
  }
  CHECK(checked == 5);   // mini: layers 1-5
  CHECK(bias_mattered > 0);
  CHECK(j.mtp_block.moe);
}

TEST_CASE("token journey: the cache holds c_KV and RoPE(k_pe), and its bytes are the cache objects'") {
  auto model = mini_model();
  const Journey j = trace_journey(*model, kIds);
  const DeepSeekConfig& c = model->config();
  const int64_t t = static_cast<int64_t>(kIds.size()), per_token = (c.kv_lora_rank + c.qk_rope_head_dim) * 4;   // float32
  const ch02::Caches fresh = model->make_caches(1, model->max_positions());   // absorbed mode: latent caches
  REQUIRE(j.layers.size() == fresh.size());
  for (size_t i = 0; i < j.layers.size(); ++i) {
    const LayerStop& s = j.layers[i];
    INFO("layer " << i);
    CHECK(s.cache_bytes == fresh[i]->bytes());
    CHECK(s.cache_capacity == fresh[i]->capacity());
    CHECK(s.cache_bytes_per_token() == per_token);
    CHECK(s.cache_length == t);
    CHECK(s.cache_bytes_used == t * per_token);
    CHECK(s.naive_bytes_per_token == c.num_attention_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim) * 4);
    REQUIRE(s.c_kv.size() == static_cast<size_t>(c.kv_lora_rank));
    REQUIRE(s.cached.size() == static_cast<size_t>(c.kv_lora_rank + c.qk_rope_head_dim));
    CHECK(max_abs_diff(s.c_kv.data(), s.cached.data(), c.kv_lora_rank) < 1e-5);
  }
  CHECK(ch02::cache_bytes(fresh) == static_cast<int64_t>(j.layers.size()) * j.layers[0].cache_bytes);
}

TEST_CASE("token journey: the MTP draft is forward_all's MTP prediction at the last position") {
  auto model = mini_model();
  const Journey j = trace_journey(*model, kIds);
  REQUIRE(j.has_mtp);
  const int64_t t = static_cast<int64_t>(kIds.size()), v = model->vocab_size();
  CHECK(j.next_token == j.top_ids[0]);   // the main head's greedy choice
  std::vector<int32_t> longer = kIds;
  longer.push_back(j.next_token);
  NoGradGuard ng;
  model->set_mla_mode(ch03::MLAMode::Naive);
  const ch05::MTPModel::Outputs out = model->forward_all(IntTensor(longer, {1, t + 1}));
  // Depth 1 covers positions 0..T-1 of the longer sequence; position T-1 pairs h_{T-1} with Emb(next).
  REQUIRE(out.mtp[0].size(1) == t);
  CHECK(max_abs_diff(out.mtp[0].data() + (t - 1) * v, j.mtp_logits.data(), v) < 1e-4);
  std::vector<int32_t> ids;
  std::vector<double> probs;
  top_k_softmax(out.mtp[0].data() + (t - 1) * v, v, 5, ids, probs);
  CHECK(ids == j.draft_ids);
}

TEST_CASE("token journey: bad input is one sentence") {
  auto model = mini_model();
  CHECK_THROWS_WITH_AS(trace_journey(*model, {}), "the prompt has 0 tokens; the model takes 1 to 256", std::invalid_argument);
  CHECK_THROWS_WITH_AS(trace_journey(*model, {3, 1024}), "token id 1024 is outside the model's vocabulary", std::invalid_argument);
}
