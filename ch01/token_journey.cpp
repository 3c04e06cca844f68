#include "ch01/token_journey.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "ch03/mla.hpp"
#include "ch04/moe.hpp"
#include "common/autograd.hpp"
#include "common/ops.hpp"

namespace ds::ch01 {

namespace {
// x [1, T, C] -> the L2 norm of row T-1.
double last_norm(const Tensor& x) {
  const int64_t c = x.size(-1);
  const float* p = x.data() + (x.numel() - c);
  double s = 0;
  for (int64_t i = 0; i < c; ++i) s += static_cast<double>(p[i]) * p[i];
  return std::sqrt(s);
}

std::vector<float> last_row(const Tensor& x) {   // x [..., C]
  const int64_t c = x.size(-1);
  return {x.data() + (x.numel() - c), x.data() + x.numel()};
}

// One block as ch02's Block::forward runs it (x + attn(norm(x)), then + ffn(norm(.))), stopping
// to record the last token. x [1, T, C] -> [1, T, C].
Tensor walk_block(ch02::Block& block, const Tensor& x, ch02::LayerCache* cache, LayerStop& stop) {
  const int64_t t = x.size(1), c = x.size(2);
  stop.input_norm = last_norm(x);
  const Tensor a_in = block.input_layernorm->forward(x);
  auto* mla = dynamic_cast<ch03::MultiHeadLatentAttention*>(block.self_attn.get());
  if (!mla) throw std::invalid_argument("the token journey needs MLA attention in every layer");
  const ch03::MLAConfig& mc = mla->config();
  const Tensor kv = mla->wkv_a.forward(slice(a_in, 1, t - 1, t));   // [1, 1, d_c + d_R]
  stop.c_kv = last_row(mla->kv_norm.forward(slice(kv, 2, 0, mc.kv_lora_rank)));
  stop.naive_bytes_per_token = mc.num_heads * (mc.qk_head_dim() + mc.v_head_dim) * static_cast<int64_t>(sizeof(float));

  const Tensor attn = block.self_attn->forward(a_in, cache);
  stop.attention_norm = last_norm(attn);
  const Tensor h = add(x, attn);
  const Tensor u = block.post_attention_layernorm->forward(h);
  if (auto* moe = dynamic_cast<ch04::MoE*>(block.mlp.get())) {
    stop.moe = true;
    const ch04::Routing r = moe->gate.forward(reshape(slice(u, 1, t - 1, t), {1, c}));
    stop.router.scores = r.scores.to_vector();
    stop.router.experts = r.experts.data;
    stop.router.weights = r.weights.to_vector();
    if (moe->gate.has_bias()) stop.router.bias = moe->gate.e_score_correction_bias.to_vector();
  }
  const Tensor f = block.mlp->forward(u);
  stop.ffn_norm = last_norm(f);
  const Tensor out = add(h, f);
  stop.output_norm = last_norm(out);

  auto* lc = dynamic_cast<ch03::LatentCache*>(cache);
  if (!lc) throw std::logic_error("the absorbed MLA path should have made a latent cache");
  const int64_t width = lc->latent().size(-1);
  const float* row = lc->latent().data() + (lc->length() - 1) * width;   // [1, 1, capacity, width], batch 1
  stop.cached.assign(row, row + width);
  stop.cache_length = lc->length();
  stop.cache_capacity = lc->capacity();
  stop.cache_bytes = lc->bytes();
  stop.cache_bytes_used = lc->bytes_used();
  return out;
}
}  // namespace

void top_k_softmax(const float* logits, int64_t n, int64_t k, std::vector<int32_t>& ids, std::vector<double>& probs) {
  const double mx = *std::max_element(logits, logits + n);
  double z = 0;
  for (int64_t i = 0; i < n; ++i) z += std::exp(static_cast<double>(logits[i]) - mx);
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  k = std::min(k, n);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  ids.assign(order.begin(), order.begin() + k);
  probs.clear();
  for (int32_t i : ids) probs.push_back(std::exp(static_cast<double>(logits[i]) - mx) / z);
}

Journey trace_journey(ch06::DeepSeekModel& model, const std::vector<int32_t>& ids, int64_t top_k) {
  const auto t = static_cast<int64_t>(ids.size());
  if (t < 1 || t > model.max_positions())
    throw std::invalid_argument("the prompt has " + std::to_string(t) + " tokens; the model takes 1 to " + std::to_string(model.max_positions()));
  for (int32_t id : ids)
    if (id < 0 || id >= model.vocab_size()) throw std::invalid_argument("token id " + std::to_string(id) + " is outside the model's vocabulary");
  NoGradGuard ng;
  model.set_mla_mode(ch03::MLAMode::Absorbed);
  ch02::TransformerLM& main = *model.main;
  Journey j;
  j.ids = ids;
  const IntTensor input(ids, {1, t});
  // Caches sized for the model's whole context, as an inference engine allocates them.
  ch02::Caches caches = main.make_caches(1, model.max_positions());
  Tensor x = main.embed_tokens.forward(input);
  j.embeddings = x;
  for (size_t i = 0; i < main.layers.size(); ++i) {
    LayerStop stop;
    stop.layer = static_cast<int64_t>(i);
    x = walk_block(*main.layers[i], x, caches[i].get(), stop);
    j.layers.push_back(std::move(stop));
  }
  const Tensor hidden = main.norm->forward(x);   // what the head and the MTP module read
  j.logits = main.logits(hidden);
  const int64_t v = j.logits.size(-1);
  const float* last = j.logits.data() + (t - 1) * v;
  top_k_softmax(last, v, top_k, j.top_ids, j.top_probs);

  if (model.depth() > 0) {
    // Module 1 pairs h_i with Emb(t_{i+1}) (V3 eq. 21): the prompt's own next tokens, and at the
    // last position the main head's greedy choice.
    ch05::MTPModule& mtp = *model.mtp[0];
    j.has_mtp = true;
    j.next_token = static_cast<int32_t>(std::max_element(last, last + v) - last);
    std::vector<int32_t> next(ids.begin() + 1, ids.end());
    next.push_back(j.next_token);
    const Tensor emb = main.embed_tokens.forward(IntTensor(next, {1, t}));
    const Tensor merged = mtp.eh_proj.forward(concat({mtp.enorm.forward(emb), mtp.hnorm.forward(hidden)}, -1));
    const auto cache = mtp.self_attn->make_cache(1, model.max_positions());
    j.mtp_block.layer = main.config().num_layers;
    j.mtp_block.mtp = true;
    const Tensor hd = walk_block(mtp, merged, cache.get(), j.mtp_block);
    j.mtp_logits = reshape(main.logits(mtp.shared_head_norm.forward(slice(hd, 1, t - 1, t))), {v});   // V3 eq. 23
    top_k_softmax(j.mtp_logits.data(), v, top_k, j.draft_ids, j.draft_probs);
  }
  return j;
}

}  // namespace ds::ch01
