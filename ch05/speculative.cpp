#include "ch05/speculative.hpp"

#include <algorithm>
#include <stdexcept>

#include "common/autograd.hpp"
#include "common/ops.hpp"
#include "common/timer.hpp"

namespace ds::ch05 {

namespace {
int32_t argmax_row(const Tensor& logits, int64_t row) {   // logits [1, T, V]
  const int64_t v = logits.size(-1);
  const float* p = logits.data() + row * v;
  return static_cast<int32_t>(std::max_element(p, p + v) - p);
}

IntTensor row_ids(const std::vector<int32_t>& ids) { return IntTensor(ids, {1, static_cast<int64_t>(ids.size())}); }
}  // namespace

SpeculativeResult speculative_greedy(MTPModel& model, const std::vector<int32_t>& prompt, int64_t max_new_tokens) {
  if (model.depth() < 1) throw std::invalid_argument("speculative decoding needs a model with an MTP module");
  if (prompt.empty()) throw std::invalid_argument("speculative decoding needs a prompt of at least one token");
  NoGradGuard ng;
  Timer timer;
  SpeculativeResult r;
  ch02::TransformerLM& main = *model.main;
  MTPModule& draft = *model.mtp[0];
  const int64_t max_len = static_cast<int64_t>(prompt.size()) + max_new_tokens + 2;
  ch02::Caches caches = main.make_caches(1, max_len);
  const auto draft_cache = draft.self_attn->make_cache(1, max_len);

  // Prefill: h_i for every prompt position and the first new token x.
  Tensor h = main.hidden_states(row_ids(prompt), &caches);
  ++r.main_forwards;
  int32_t x = argmax_row(main.logits(h), h.size(1) - 1);
  r.tokens.push_back(x);
  // The MTP module's position i pairs h_i with Emb(t_{i+1}); these are the pairs it has not seen.
  std::vector<int32_t> next_ids(prompt.begin() + 1, prompt.end());
  next_ids.push_back(x);
  while (static_cast<int64_t>(r.tokens.size()) < max_new_tokens) {
    const Tensor hd = draft.forward(h, main.embed_tokens.forward(row_ids(next_ids)), draft_cache.get());
    const int32_t d = argmax_row(main.logits(draft.shared_head_norm.forward(slice(hd, 1, hd.size(1) - 1, hd.size(1)))), 0);
    ++r.drafted;
    // Verify: the main model reads x and the draft d; its output at x is the true next token.
    h = main.hidden_states(row_ids({x, d}), &caches);
    ++r.main_forwards;
    const Tensor logits = main.logits(h);
    const int32_t y = argmax_row(logits, 0);
    if (y == d) {
      ++r.accepted;
      r.tokens.push_back(d);
      x = argmax_row(logits, 1);
      next_ids = {d, x};
    } else {
      for (auto& c : caches) c->truncate(c->length() - 1);   // forget d
      h = slice(h, 1, 0, 1);
      x = y;
      next_ids = {y};
    }
    r.tokens.push_back(x);
  }
  r.tokens.resize(static_cast<size_t>(max_new_tokens));
  r.seconds = timer.seconds();
  return r;
}

}  // namespace ds::ch05
