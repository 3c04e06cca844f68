#include "ch02/generate.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "ch02/padding.hpp"
#include "common/autograd.hpp"
#include "common/timer.hpp"

namespace ds::ch02 {

Rng row_rng(uint64_t seed, int64_t row) {
  if (row < 0) throw std::invalid_argument("generate: row indices start at 0, got " + std::to_string(row));
  if (row == 0) return Rng(seed);
  Rng mix(static_cast<uint64_t>(row));   // seeded through splitmix64: its first output is a well-mixed hash of row
  return Rng(seed ^ mix.next_u64());
}

namespace {
// log sum_j exp(logits[j]), in double.
double log_sum_exp(const float* logits, int64_t vocab) {
  const double m = *std::max_element(logits, logits + vocab);
  double z = 0;
  for (int64_t j = 0; j < vocab; ++j) z += std::exp(static_cast<double>(logits[j]) - m);
  return m + std::log(z);
}
}  // namespace

SampledToken sample_token(const float* logits, int64_t vocab, const SamplingConfig& cfg, Rng& rng) {
  const double lse = log_sum_exp(logits, vocab);
  const auto model_logprob = [&](int32_t t) { return static_cast<float>(logits[t] - lse); };
  if (cfg.temperature <= 0.f) {
    const auto t = static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
    return {t, model_logprob(t), 0.f};
  }
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [logits](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  size_t keep = cfg.top_k > 0 ? std::min<size_t>(static_cast<size_t>(cfg.top_k), ids.size()) : ids.size();
  std::vector<double> p(keep);   // unnormalised probabilities of the kept tokens, largest first
  const double m = logits[ids[0]] / cfg.temperature;
  double z = 0;
  for (size_t i = 0; i < keep; ++i) z += p[i] = std::exp(logits[ids[i]] / cfg.temperature - m);
  if (cfg.top_p < 1.f) {   // the smallest prefix whose probability reaches top_p (Holtzman et al.)
    double c = 0;
    for (size_t i = 0; i < keep; ++i)
      if ((c += p[i] / z) >= cfg.top_p) { keep = i + 1; break; }
    z = std::accumulate(p.begin(), p.begin() + static_cast<long>(keep), 0.0);
  }
  double u = rng.uniform() * z;
  size_t pick = keep - 1;
  for (size_t i = 0; i < keep; ++i)
    if ((u -= p[i]) <= 0) { pick = i; break; }
  const int32_t t = ids[pick];
  return {t, model_logprob(t), static_cast<float>((logits[t] / cfg.temperature - m) - std::log(z))};
}

namespace {
bool is_stop(int32_t t, const SamplingConfig& cfg) {
  return std::find(cfg.stop_tokens.begin(), cfg.stop_tokens.end(), t) != cfg.stop_tokens.end();
}

// x [B, L] -> [B, L + 1] with column L = col.
IntTensor append_column(const IntTensor& x, const std::vector<int32_t>& col) {
  const int64_t b = x.size(0), l = x.size(1);
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(b * (l + 1)));
  for (int64_t r = 0; r < b; ++r) {
    out.insert(out.end(), x.data.begin() + r * l, x.data.begin() + (r + 1) * l);
    out.push_back(col[static_cast<size_t>(r)]);
  }
  return IntTensor(std::move(out), {b, l + 1});
}

IntTensor last_column(const IntTensor& x) {
  const int64_t b = x.size(0), l = x.size(1);
  std::vector<int32_t> out;
  for (int64_t r = 0; r < b; ++r) out.push_back(x[r * l + l - 1]);
  return IntTensor(std::move(out), {b, 1});
}

// Rows of different lengths -> [B, N] with zeros past each row's end.
Tensor padded_rows(const std::vector<std::vector<float>>& rows, int64_t n) {
  Tensor out = Tensor::zeros({static_cast<int64_t>(rows.size()), n});
  for (size_t r = 0; r < rows.size(); ++r) std::copy(rows[r].begin(), rows[r].end(), out.data() + static_cast<int64_t>(r) * n);
  return out;
}
}  // namespace

Generation generate(LanguageModel& model, const std::vector<std::vector<int32_t>>& prompts, const SamplingConfig& cfg, bool use_cache) {
  NoGradGuard ng;
  for (const auto& p : prompts)
    if (p.empty()) throw std::invalid_argument("generate: a prompt needs at least one token");
  const auto b = static_cast<int64_t>(prompts.size());
  const int64_t v = model.vocab_size();
  const LeftPadded batch = left_pad(prompts);
  const int64_t p = batch.ids.size(1), total = p + cfg.max_new_tokens;
  if (total > model.max_positions())
    throw std::length_error("generate: prompt (" + std::to_string(p) + ") + new tokens (" + std::to_string(cfg.max_new_tokens) +
                            ") exceed the model's " + std::to_string(model.max_positions()) + " positions");
  std::vector<Rng> rngs;
  for (int64_t r = 0; r < b; ++r) rngs.push_back(row_rng(cfg.seed, cfg.first_row + r));
  Generation g;
  g.tokens.resize(prompts.size());
  std::vector<std::vector<float>> logprobs(prompts.size()), sampling_logprobs(prompts.size());
  std::vector<bool> done(prompts.size(), b == 0);
  IntTensor seq = batch.ids, mask = batch.attention_mask;
  ForwardOptions opt;
  if (batch.padded) opt.attention_mask = &mask;   // unpadded batches keep attention's unmasked fast path
  Caches caches = use_cache && b > 0 ? model.make_caches(b, total) : Caches{};
  for (int64_t step = 0; step < cfg.max_new_tokens && !std::all_of(done.begin(), done.end(), [](bool d) { return d; }); ++step) {
    Timer timer;
    const bool incremental = use_cache && step > 0;   // with a cache only the newest token is new
    const Tensor logits = model.forward(incremental ? last_column(seq) : seq, use_cache ? &caches : nullptr, opt);
    ++g.forward_calls;
    const int64_t t = logits.size(1);
    std::vector<int32_t> next(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      const auto row = static_cast<int64_t>(i);
      const SampledToken s = sample_token(logits.data() + (row * t + t - 1) * v, v, cfg, rngs[i]);
      next[i] = s.token;
      if (done[i]) continue;   // finished rows still run (their batch does) but keep nothing
      g.tokens[i].push_back(s.token);
      logprobs[i].push_back(s.logprob);
      sampling_logprobs[i].push_back(s.sampling_logprob);
      done[i] = is_stop(s.token, cfg);
    }
    seq = append_column(seq, next);
    mask = append_column(mask, std::vector<int32_t>(prompts.size(), 1));
    g.step_seconds.push_back(timer.seconds());
    g.cache_bytes_used.push_back(use_cache ? cache_bytes_used(caches) : 0);
  }
  int64_t n = 0;
  for (const auto& tk : g.tokens) {
    g.lengths.push_back(static_cast<int64_t>(tk.size()));
    n = std::max(n, g.lengths.back());
  }
  g.logprobs = padded_rows(logprobs, n);
  g.sampling_logprobs = padded_rows(sampling_logprobs, n);
  std::vector<std::vector<float>> ones;
  for (int64_t len : g.lengths) ones.emplace_back(static_cast<size_t>(len), 1.f);
  g.completion_mask = padded_rows(ones, n);
  return g;
}

}  // namespace ds::ch02
