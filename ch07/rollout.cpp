#include "ch07/rollout.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "common/ops.hpp"

namespace ds::ch07 {

std::vector<float> Rollouts::accuracy_rewards() const {
  std::vector<float> r;
  for (const Reward& x : rewards) r.push_back(x.accuracy);
  return r;
}

double Rollouts::mean_accuracy() const {
  double s = 0;
  for (const Reward& x : rewards) s += x.accuracy;
  return rewards.empty() ? 0.0 : s / static_cast<double>(rewards.size());
}

double Rollouts::mean_length() const {
  double s = 0;
  for (const auto& c : completions) s += static_cast<double>(c.size());
  return completions.empty() ? 0.0 : s / static_cast<double>(completions.size());
}

int64_t completion_budget(const TaskCodec& codec, const std::vector<Problem>& problems) {
  int64_t longest = 0;
  for (const Problem& p : problems) longest = std::max<int64_t>(longest, static_cast<int64_t>(codec.completion(p).size()));
  return longest + 8;
}

namespace {
// Restores the model's MLA mode when sampling ends (also by an exception).
struct AbsorbedMode {
  explicit AbsorbedMode(ch06::DeepSeekModel& m) : model(m), saved(m.mla_mode()) { m.set_mla_mode(ch03::MLAMode::Absorbed); }
  ~AbsorbedMode() { model.set_mla_mode(saved); }
  ch06::DeepSeekModel& model;
  ch03::MLAMode saved;
};

// Copies rows [from, from + count) of src [R, n] into out [rows, L >= n] from row `at`; the rest of
// each out row is left as it is (zero padding).
void copy_rows(Tensor& out, int64_t at, const Tensor& src, int64_t from, int64_t count) {
  const int64_t n = src.size(1), l = out.size(1);
  for (int64_t i = 0; i < count; ++i) std::copy_n(src.data() + (from + i) * n, n, out.data() + (at + i) * l);
}
}  // namespace

Rollouts gather_groups(const std::vector<Rollouts>& draws, const std::vector<std::pair<size_t, int64_t>>& picks) {
  Rollouts out;
  if (draws.empty()) throw std::invalid_argument("gather_groups needs at least one draw");
  out.group = draws.front().group;
  int64_t width = 0;
  for (const auto& [d, g] : picks) {
    if (d >= draws.size() || g < 0 || g >= static_cast<int64_t>(draws[d].problems.size()) || draws[d].group != out.group)
      throw std::invalid_argument("gather_groups: a pick names no group of a draw with the same group size");
    width = std::max(width, draws[d].logprobs.size(1));
  }
  const int64_t rows = static_cast<int64_t>(picks.size()) * out.group;
  out.logprobs = Tensor::zeros({rows, width});
  out.sampling_logprobs = Tensor::zeros({rows, width});
  out.mask = Tensor::zeros({rows, width});
  int64_t at = 0;
  for (const auto& [d, g] : picks) {
    const Rollouts& r = draws[d];
    out.problems.push_back(r.problems[static_cast<size_t>(g)]);
    const int64_t first = g * r.group;
    for (int64_t i = first; i < first + r.group; ++i) {
      const size_t si = static_cast<size_t>(i);
      out.prompts.push_back(r.prompts[si]);
      out.completions.push_back(r.completions[si]);
      out.texts.push_back(r.texts[si]);
      out.rewards.push_back(r.rewards[si]);
    }
    copy_rows(out.logprobs, at, r.logprobs, first, r.group);
    copy_rows(out.sampling_logprobs, at, r.sampling_logprobs, first, r.group);
    copy_rows(out.mask, at, r.mask, first, r.group);
    at += r.group;
  }
  return out;
}

Rollouts sample_rollouts(ch06::DeepSeekModel& model, const TaskCodec& codec, const std::vector<Problem>& problems, int64_t group,
                         ch02::SamplingConfig sc, int64_t rows_per_call) {
  if (group < 1 || rows_per_call < 1) throw std::invalid_argument("sample_rollouts needs a group size and rows per call of at least 1");
  AbsorbedMode absorbed(model);
  Rollouts r;
  r.problems = problems;
  r.group = group;
  for (const Problem& p : problems) {
    const std::vector<int32_t> ids = codec.prompt(p);
    if (static_cast<int64_t>(ids.size()) + sc.max_new_tokens > model.max_positions())
      throw std::invalid_argument("a prompt of " + std::to_string(ids.size()) + " tokens plus " + std::to_string(sc.max_new_tokens) +
                                  " new ones exceeds the model's context of " + std::to_string(model.max_positions()));
    for (int64_t g = 0; g < group; ++g) r.prompts.push_back(ids);
  }
  sc.stop_tokens = {codec.eot()};
  const int64_t rows = static_cast<int64_t>(r.prompts.size());
  r.logprobs = Tensor::zeros({rows, sc.max_new_tokens});
  r.mask = Tensor::zeros({rows, sc.max_new_tokens});
  r.sampling_logprobs = Tensor::zeros({rows, sc.max_new_tokens});
  const uint64_t first_row = static_cast<uint64_t>(sc.first_row);
  for (int64_t at = 0; at < rows; at += rows_per_call) {
    const int64_t n = std::min(rows_per_call, rows - at);
    const std::vector<std::vector<int32_t>> part(r.prompts.begin() + at, r.prompts.begin() + at + n);
    sc.first_row = static_cast<int64_t>(first_row) + at;
    const ch02::Generation g = ch02::generate(model, part, sc, true);
    for (const auto& t : g.tokens) r.completions.push_back(t);
    copy_rows(r.logprobs, at, g.logprobs, 0, n);
    copy_rows(r.mask, at, g.completion_mask, 0, n);
    copy_rows(r.sampling_logprobs, at, g.sampling_logprobs, 0, n);
  }
  for (int64_t i = 0; i < rows; ++i) {
    r.texts.push_back(codec.text(r.completions[static_cast<size_t>(i)]));
    r.rewards.push_back(score(r.problem(i), r.texts.back()));
  }
  return r;
}

Tensor TemperedModel::forward(const IntTensor& ids, ch02::Caches* caches, const ch02::ForwardOptions& opt) {
  const Tensor logits = model_.forward(ids, caches, opt);
  return inv_t_ == 1.f ? logits : mul_scalar(logits, inv_t_);
}

Verified verified_completions(const Rollouts& r, bool require_format) {
  Verified v;
  for (size_t p = 0; p < r.problems.size(); ++p) {
    std::set<std::vector<int32_t>> seen;
    for (int64_t g = 0; g < r.group; ++g) {
      const size_t row = p * static_cast<size_t>(r.group) + static_cast<size_t>(g);
      if (r.rewards[row].accuracy < 1.f || (require_format && r.rewards[row].format < 1.f)) continue;
      ++v.accepted;
      if (seen.insert(r.completions[row]).second) {
        v.prompts.push_back(r.prompts[row]);
        v.completions.push_back(r.completions[row]);
      }
    }
  }
  return v;
}

GreedyReport greedy_eval(ch06::DeepSeekModel& model, const TaskCodec& codec, const std::vector<Problem>& problems) {
  GreedyReport rep;
  if (problems.empty()) return rep;
  ch02::SamplingConfig sc;
  sc.max_new_tokens = completion_budget(codec, problems);
  const Rollouts r = sample_rollouts(model, codec, problems, 1, sc);
  for (int64_t i = 0; i < r.rows(); ++i) {
    rep.correct.push_back(r.correct(i));
    rep.exact_match += r.correct(i);
    rep.format_rate += r.rewards[static_cast<size_t>(i)].format;
  }
  const double n = static_cast<double>(problems.size());
  rep.exact_match /= n;
  rep.format_rate /= n;
  rep.mean_length = r.mean_length();
  return rep;
}

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n < 1 || c < 0 || c > n || k < 1 || k > n) throw std::invalid_argument("pass_at_k needs 0 <= c <= n and 1 <= k <= n");
  if (n - c < k) return 1.0;
  double fail = 1.0;   // C(n - c, k) / C(n, k) = prod_{i = n - c + 1}^{n} (1 - k / i)
  for (int64_t i = n - c + 1; i <= n; ++i) fail *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - fail;
}

std::vector<double> pass_at_k_curve(ch06::DeepSeekModel& model, const TaskCodec& codec, const std::vector<Problem>& problems, int64_t n,
                                    int64_t k_max, float temperature, uint64_t seed) {
  if (k_max < 1 || n < k_max) throw std::invalid_argument("pass@k needs at least k_max samples per problem");
  ch02::SamplingConfig sc;
  sc.max_new_tokens = completion_budget(codec, problems);
  sc.temperature = temperature;
  sc.seed = seed;
  const Rollouts r = sample_rollouts(model, codec, problems, n, sc);
  std::vector<double> curve(static_cast<size_t>(k_max), 0.0);
  for (size_t p = 0; p < problems.size(); ++p) {
    int64_t c = 0;
    for (int64_t g = 0; g < n; ++g) c += r.correct(static_cast<int64_t>(p) * n + g);
    for (int64_t k = 1; k <= k_max; ++k) curve[static_cast<size_t>(k - 1)] += pass_at_k(n, c, k) / static_cast<double>(problems.size());
  }
  return curve;
}

}  // namespace ds::ch07
