#include <doctest/doctest.h>

#include <cmath>

#include "ch02/generate.hpp"
#include "ch04/moe_model.hpp"
#include "ch05/mtp.hpp"
#include "ch05/speculative.hpp"
#include "common/autograd.hpp"
#include "common/gradcheck.hpp"
#include "common/ops.hpp"
#include "common/tests/test_helpers.hpp"

using namespace ds;
using namespace ds::ch05;

namespace {
// A tiny DeepSeek-style model (MLA, a dense layer, a MoE layer) with `depth` MTP modules.
std::unique_ptr<MTPModel> tiny_mtp(int64_t depth, uint64_t seed, int64_t hidden = 16, int64_t vocab = 24, bool dense = false) {
  ch04::MoEModelConfig c = ch04::program_moe_config(vocab, true);
  c.lm.hidden_size = hidden;
  c.lm.max_position_embeddings = 64;
  c.lm.init_std = 0.3f;
  c.mla.num_heads = 2;
  c.mla.kv_lora_rank = 8;
  c.mla.qk_nope_head_dim = 4;
  c.mla.qk_rope_head_dim = 4;
  c.mla.v_head_dim = 4;
  c.intermediate_size = 12;
  c.moe.gate.n_routed_experts = 4;
  c.moe.moe_intermediate_size = 6;
  if (dense) c.first_k_dense_replace = 100;   // no routing: finite differences cannot flip an expert choice
  Rng rng(seed);
  return std::make_unique<MTPModel>(ch04::make_moe_model(c, rng), depth, ch04::moe_model_attention(c), ch04::moe_model_feed_forward(c), rng);
}

IntTensor random_ids(int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> v(static_cast<size_t>(b * t));
  for (auto& x : v) x = static_cast<int32_t>(rng.randint(static_cast<uint64_t>(vocab)));
  return IntTensor(v, {b, t});
}

bool rows_equal(const Tensor& a, const Tensor& b, int64_t row) {   // row i of [1, T, V]
  const int64_t v = a.size(-1);
  for (int64_t j = 0; j < v; ++j)
    if (std::abs(a.data()[row * v + j] - b.data()[row * v + j]) > 1e-6f) return false;
  return true;
}
}  // namespace

TEST_CASE("mtp: depth k at position i reads Emb(t_{i+k}): changing t_j first moves position j - k") {
  auto m = tiny_mtp(2, 1);
  NoGradGuard ng;
  IntTensor ids = random_ids(1, 10, 24, 2);
  const auto a = m->forward_all(ids);
  const int64_t j = 6;
  ids.data[j] = (ids.data[j] + 5) % 24;
  const auto b = m->forward_all(ids);
  REQUIRE(a.mtp.size() == 2);
  for (int64_t k = 1; k <= 2; ++k) {
    const Tensor &x = a.mtp[static_cast<size_t>(k - 1)], &y = b.mtp[static_cast<size_t>(k - 1)];
    CHECK(x.size(1) == 10 - k);
    for (int64_t i = 0; i < j - k; ++i) CHECK(rows_equal(x, y, i));
    CHECK_FALSE(rows_equal(x, y, j - k));
  }
  CHECK(rows_equal(a.logits, b.logits, j - 1));   // the main head at j - 1 has not seen t_j
  CHECK_FALSE(rows_equal(a.logits, b.logits, j));
}

TEST_CASE("mtp: depth k's loss scores t_{i+k+1}, and L = CE_main + lambda / D * sum CE_k") {
  auto m = tiny_mtp(2, 3);
  NoGradGuard ng;
  const IntTensor seq = random_ids(2, 9, 24, 4);   // t_0..t_8; inputs t_0..t_7, targets t_1..t_8
  std::vector<int32_t> in, tg;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t i = 0; i < 8; ++i) {
      in.push_back(seq.data[static_cast<size_t>(r * 9 + i)]);
      tg.push_back(seq.data[static_cast<size_t>(r * 9 + i + 1)]);
    }
  const IntTensor ids(in, {2, 8}), targets(tg, {2, 8});
  const auto out = m->forward_all(ids);
  const MTPLoss l = mtp_loss(out, targets, 0.3f);
  for (int64_t k = 1; k <= 2; ++k) {
    const Tensor& lg = out.mtp[static_cast<size_t>(k - 1)];
    double nll = 0;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t i = 0; i < 8 - k; ++i) {
        const float* row = lg.data() + (r * (8 - k) + i) * 24;
        double z = 0;
        for (int64_t v = 0; v < 24; ++v) z += std::exp(static_cast<double>(row[v]));
        nll -= row[seq.data[static_cast<size_t>(r * 9 + i + k + 1)]] - std::log(z);   // t_{i+k+1}
      }
    CHECK(l.depth[static_cast<size_t>(k - 1)] == doctest::Approx(nll / (2 * (8 - k))).epsilon(1e-5));
  }
  CHECK(l.total.item() == doctest::Approx(l.main.item() + 0.15 * (l.depth[0] + l.depth[1])).epsilon(1e-5));
}

TEST_CASE("mtp: DeepSeek-V3 names, module k as layer num_layers + k - 1, embedding and head shared") {
  auto m = tiny_mtp(2, 5);
  int embeds = 0;
  bool eh = false, shared_norm = false, second = false, attn = false;
  for (const auto& [name, t] : m->state_dict()) {
    embeds += name.find("embed_tokens") != std::string::npos;
    if (name == "model.layers.2.eh_proj.weight") eh = t.shape() == Shape{16, 32};
    shared_norm |= name == "model.layers.2.shared_head.norm.weight";
    second |= name == "model.layers.3.enorm.weight";
    attn |= name == "model.layers.2.self_attn.kv_a_proj_with_mqa.weight";
  }
  CHECK(embeds == 1);
  CHECK(eh);
  CHECK(shared_norm);
  CHECK(second);
  CHECK(attn);
}

TEST_CASE("mtp: finite-difference gradients of the MTP loss reach every MTP parameter and the shared ones") {
  auto m = tiny_mtp(1, 6, 8, 10, true);
  const IntTensor ids = random_ids(1, 5, 10, 7), targets = random_ids(1, 5, 10, 8);
  NamedTensors params;
  for (const auto& [name, t] : m->named_parameters())
    if (name.find("layers.2.") != std::string::npos || name == "lm_head.weight" || name == "model.embed_tokens.weight") params.push_back({name, t});
  const auto res = gradcheck_params([&] { return mtp_loss(m->forward_all(ids), targets, 0.5f).total; }, params);
  CHECK_MESSAGE(res.ok, res.worst);
}

TEST_CASE("speculative decoding returns exactly greedy decoding's tokens") {
  for (uint64_t seed : {9, 10}) {
    auto m = tiny_mtp(1, seed);
    const std::vector<int32_t> prompt = {3, 7, 1, 12, 5};
    ch02::SamplingConfig sc;
    sc.max_new_tokens = 20;
    const auto greedy = ch02::generate(*m, {prompt}, sc, true);
    const SpeculativeResult spec = speculative_greedy(*m, prompt, 20);
    CHECK(spec.tokens == greedy.tokens[0]);
    CHECK(spec.main_forwards == 20 - spec.accepted);   // each accepted draft saves one forward
  }
  // A head of zeros makes every logit equal, so main and draft both pick token 0: every draft is
  // accepted, which exercises the accept path and two tokens per verification.
  auto m = tiny_mtp(1, 11);
  m->main->lm_head.fill_(0.f);
  const SpeculativeResult spec = speculative_greedy(*m, {1, 2, 3}, 9);
  CHECK(spec.tokens == std::vector<int32_t>(9, 0));
  CHECK(spec.accepted == spec.drafted);
  CHECK(spec.tokens_per_forward() > 1.7);
}
