#include "ch02/generate.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <stdexcept>

#include "common/autograd.hpp"
#include "common/timer.hpp"

namespace ds::ch02 {

int32_t sample_token(const float* logits, int64_t vocab, const SamplingConfig& cfg, Rng& rng) {
  if (cfg.temperature <= 0.f) return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [logits](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  size_t keep = cfg.top_k > 0 ? std::min<size_t>(static_cast<size_t>(cfg.top_k), ids.size()) : ids.size();
  std::vector<double> p(keep);
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
  for (size_t i = 0; i < keep; ++i)
    if ((u -= p[i]) <= 0) return ids[i];
  return ids[keep - 1];
}

namespace {
bool is_stop(int32_t t, const SamplingConfig& cfg) {
  return std::find(cfg.stop_tokens.begin(), cfg.stop_tokens.end(), t) != cfg.stop_tokens.end();
}

// One batch of equal-length prompts.
void generate_group(LanguageModel& model, const std::vector<std::vector<int32_t>>& prompts, const SamplingConfig& cfg,
                    bool use_cache, Rng& rng, std::vector<std::vector<int32_t>>& out, Generation& g) {
  const int64_t b = static_cast<int64_t>(prompts.size()), p = static_cast<int64_t>(prompts[0].size()), v = model.vocab_size();
  if (p == 0) throw std::invalid_argument("generate: a prompt needs at least one token");
  const int64_t total = p + cfg.max_new_tokens;
  if (total > model.max_positions())
    throw std::length_error("generate: prompt (" + std::to_string(p) + ") + new tokens (" + std::to_string(cfg.max_new_tokens) +
                            ") exceed the model's " + std::to_string(model.max_positions()) + " positions");
  std::vector<std::vector<int32_t>> seq(prompts);
  std::vector<bool> done(static_cast<size_t>(b), false);
  Caches caches = use_cache ? model.make_caches(b, total) : Caches{};
  for (int64_t step = 0; step < cfg.max_new_tokens; ++step) {
    Timer timer;
    const int64_t len = static_cast<int64_t>(seq[0].size());
    const int64_t start = use_cache && step > 0 ? len - 1 : 0;   // with a cache only the newest token is new
    std::vector<int32_t> ids;
    for (const auto& s : seq) ids.insert(ids.end(), s.begin() + start, s.end());
    const Tensor logits = model.forward(IntTensor(ids, {b, len - start}), use_cache ? &caches : nullptr);
    ++g.forward_calls;
    const int64_t t = len - start;
    for (int64_t i = 0; i < b; ++i) {
      const int32_t tok = sample_token(logits.data() + ((i * t) + t - 1) * v, v, cfg, rng);
      seq[static_cast<size_t>(i)].push_back(tok);
      if (!done[static_cast<size_t>(i)]) out[static_cast<size_t>(i)].push_back(tok);
      if (is_stop(tok, cfg)) done[static_cast<size_t>(i)] = true;
    }
    g.step_seconds.push_back(timer.seconds());
    g.cache_bytes_used.push_back(use_cache ? cache_bytes_used(caches) : 0);
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
  }
}
}  // namespace

Generation generate(LanguageModel& model, const std::vector<std::vector<int32_t>>& prompts, const SamplingConfig& cfg,
                    bool use_cache, Rng& rng) {
  NoGradGuard ng;
  Generation g;
  g.tokens.resize(prompts.size());
  std::map<size_t, std::vector<size_t>> by_length;
  for (size_t i = 0; i < prompts.size(); ++i) by_length[prompts[i].size()].push_back(i);
  for (const auto& [len, idx] : by_length) {
    std::vector<std::vector<int32_t>> group, out(idx.size());
    for (size_t i : idx) group.push_back(prompts[i]);
    generate_group(model, group, cfg, use_cache, rng, out, g);
    for (size_t j = 0; j < idx.size(); ++j) g.tokens[idx[j]] = out[j];
  }
  return g;
}

}  // namespace ds::ch02
