// Sampling and judging completions, the part every post-training method shares: GRPO and PPO
// learn from sampled groups, rejection sampling keeps their verified-correct members, DPO pairs a
// correct with a wrong one, and every program reports greedy exact match and pass@k on held-out
// problems with the same functions. Sampling is ch02::generate (batched, KV cache, per-row RNG).
#pragma once

#include <vector>

#include "ch02/generate.hpp"
#include "ch06/model.hpp"
#include "ch07/task_model.hpp"
#include "ch07/verifiers.hpp"

namespace ds::ch07 {

// G completions for each of N prompts: row r = prompt r / G, sample r % G.
struct Rollouts {
  std::vector<Problem> problems;                    // [N]
  int64_t group = 1;                                // G
  std::vector<std::vector<int32_t>> prompts;        // [N * G] token ids (each row's prompt)
  std::vector<std::vector<int32_t>> completions;    // [N * G] the sampled tokens, stop token included
  std::vector<std::string> texts;                   // [N * G] decoded completions
  std::vector<Reward> rewards;                      // [N * G] accuracy and format (verifiers.hpp)
  Tensor logprobs;                                  // [N * G, L] log pi_old of each sampled token (0 past the end)
  Tensor sampling_logprobs;                         // [N * G, L] the same under the tempered distribution sampled from
  Tensor mask;                                      // [N * G, L] 1 on sampled tokens

  int64_t rows() const { return static_cast<int64_t>(completions.size()); }
  const Problem& problem(int64_t row) const { return problems[static_cast<size_t>(row / group)]; }
  bool correct(int64_t row) const { return rewards[static_cast<size_t>(row)].accuracy >= 1.f; }
  std::vector<float> accuracy_rewards() const;
  double mean_accuracy() const;
  double mean_length() const;   // completion tokens per row
};

// The longest worked-solution completion of `problems` plus a margin of 8 tokens: the sampling
// budget, so a model that rambles is cut off (and scores 0) instead of running to the context.
int64_t completion_budget(const TaskCodec& codec, const std::vector<Problem>& problems);

// Samples `group` completions per problem with `sc` (stop at <|endoftext|> is added; seed and
// first_row as given), rows_per_call rows per generate() call. The model decodes with the
// absorbed MLA and its latent cache, and is put back in its MLA mode afterwards.
Rollouts sample_rollouts(ch06::DeepSeekModel& model, const TaskCodec& codec, const std::vector<Problem>& problems, int64_t group,
                         ch02::SamplingConfig sc, int64_t rows_per_call = 128);

// Groups of several rollouts as one: picks are (index into `draws`, group index) pairs, in the
// order wanted; every draw has the same G, and the tensors are zero-padded to the widest draw.
// DAPO's dynamic sampling keeps the mixed groups of several draws this way.
Rollouts gather_groups(const std::vector<Rollouts>& draws, const std::vector<std::pair<size_t, int64_t>>& picks);

// The policy at temperature T: logits / T. Sampling at T and training this model (TRL's GRPOTrainer
// does the same) optimises the distribution the samples come from, so log pi_old is the sampling
// log-prob and the ratio starts at 1.
class TemperedModel : public ch02::LanguageModel {
 public:
  TemperedModel(ch02::LanguageModel& model, float temperature) : model_(model), inv_t_(1.f / temperature) {}
  Tensor forward(const IntTensor& ids, ch02::Caches* caches = nullptr, const ch02::ForwardOptions& opt = {}) override;
  ch02::Caches make_caches(int64_t batch, int64_t max_len) const override { return model_.make_caches(batch, max_len); }
  int64_t vocab_size() const override { return model_.vocab_size(); }
  int64_t max_positions() const override { return model_.max_positions(); }

 private:
  ch02::LanguageModel& model_;
  float inv_t_;
};

// The verified samples of r, each prompt's distinct ones (RFT keeps the distinct correct
// reasoning paths; a worked solution is often sampled many times): right answers, and also well
// formed when require_format. accepted counts every right sample before the duplicates go.
struct Verified {
  std::vector<std::vector<int32_t>> prompts, completions;
  int64_t accepted = 0;
};
Verified verified_completions(const Rollouts& r, bool require_format);

struct GreedyReport {
  double exact_match = 0;     // fraction of problems whose answer is right (accuracy reward 1)
  double format_rate = 0;     // fraction of well-formed completions (format reward 1)
  double mean_length = 0;     // completion tokens
  std::vector<bool> correct;  // per problem
};
// Greedy decoding of every problem, judged by the verifier.
GreedyReport greedy_eval(ch06::DeepSeekModel& model, const TaskCodec& codec, const std::vector<Problem>& problems);

// The unbiased pass@k from n samples of which c are correct (Chen et al. 2021, "Evaluating Large
// Language Models Trained on Code", eq. 1): 1 - C(n - c, k) / C(n, k), computed as a product.
double pass_at_k(int64_t n, int64_t c, int64_t k);
// pass@1..pass@k_max over `problems`, from n >= k_max samples per problem at temperature `temperature`.
std::vector<double> pass_at_k_curve(ch06::DeepSeekModel& model, const TaskCodec& codec, const std::vector<Problem>& problems, int64_t n,
                                    int64_t k_max, float temperature, uint64_t seed);

}  // namespace ds::ch07
