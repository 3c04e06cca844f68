#include "ch02/score.hpp"

#include <algorithm>
#include <stdexcept>

#include "ch02/padding.hpp"
#include "common/ops.hpp"

namespace ds::ch02 {

SequenceBatch pack_sequences(const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<int32_t>>& completions) {
  if (prompts.size() != completions.size())
    throw std::invalid_argument("pack_sequences: " + std::to_string(prompts.size()) + " prompts but " + std::to_string(completions.size()) + " completions");
  for (const auto& p : prompts)
    if (p.empty()) throw std::invalid_argument("pack_sequences: a prompt needs at least one token");
  const LeftPadded left = left_pad(prompts);
  const int64_t b = left.ids.size(0), p = left.ids.size(1);
  int64_t n = 0;
  for (const auto& c : completions) n = std::max(n, static_cast<int64_t>(c.size()));
  SequenceBatch s;
  s.prompt_len = p;
  s.ids = IntTensor(std::vector<int32_t>(static_cast<size_t>(b * (p + n)), 0), {b, p + n});
  s.attention_mask = IntTensor(std::vector<int32_t>(static_cast<size_t>(b * (p + n)), 0), {b, p + n});
  s.targets = IntTensor(std::vector<int32_t>(static_cast<size_t>(b * n), -100), {b, n});
  for (int64_t r = 0; r < b; ++r) {
    const auto& c = completions[static_cast<size_t>(r)];
    const auto row = [&](std::vector<int32_t>& d, int64_t width) { return d.begin() + r * width; };
    std::copy_n(left.ids.data.begin() + r * p, p, row(s.ids.data, p + n));
    std::copy_n(left.attention_mask.data.begin() + r * p, p, row(s.attention_mask.data, p + n));
    std::copy(c.begin(), c.end(), row(s.ids.data, p + n) + p);
    std::fill_n(row(s.attention_mask.data, p + n) + p, c.size(), 1);
    std::copy(c.begin(), c.end(), row(s.targets.data, n));
  }
  return s;
}

TokenScores score_completions(LanguageModel& model, const SequenceBatch& batch) {
  const int64_t b = batch.ids.size(0), p = batch.prompt_len, n = batch.targets.size(1), v = model.vocab_size();
  if (p < 1 || batch.ids.shape != Shape{b, p + n} || batch.attention_mask.shape != batch.ids.shape)
    shape_error("score_completions", "ids and attention_mask must be [B, P + N] with P >= 1", batch.ids.shape, batch.targets.shape);
  if (n == 0) return {Tensor::zeros({b, 0}), Tensor::zeros({b, 0})};
  const bool padded = std::find(batch.attention_mask.data.begin(), batch.attention_mask.data.end(), 0) != batch.attention_mask.data.end();
  ForwardOptions opt;
  if (padded) opt.attention_mask = &batch.attention_mask;   // a full batch keeps attention's unmasked fast path
  const Tensor logits = model.forward(batch.ids, nullptr, opt);   // [B, P + N, V]
  // Column P - 1 + j predicts completion token j.
  const Tensor predicting = reshape(slice(logits, 1, p - 1, p - 1 + n), {b * n, v});
  TokenScores s;
  s.log_probs = reshape(token_log_probs(predicting, batch.targets), {b, n});
  s.mask = Tensor::zeros({b, n});
  for (int64_t i = 0; i < b * n; ++i) s.mask.data()[i] = batch.targets[i] == -100 ? 0.f : 1.f;
  return s;
}

TokenScores score_completions(LanguageModel& model, const std::vector<std::vector<int32_t>>& prompts,
                              const std::vector<std::vector<int32_t>>& completions) {
  return score_completions(model, pack_sequences(prompts, completions));
}

}  // namespace ds::ch02
