#include "ch07/r1_zero.hpp"

#include <cmath>
#include <numeric>

namespace ds::ch07 {

void add_grpo_flags(Flags& flags, R1ZeroConfig& cfg) {
  flags.add("--prompts", cfg.prompts, "prompts per GRPO step").min(1).max(4096);
  flags.add("--group", cfg.group, "G, completions per prompt").min(2).max(256);
  flags.add("--lr", cfg.lr, "GRPO learning rate").min(1e-7).max(1);
  flags.add("--temperature", cfg.temperature, "sampling temperature of the rollouts and of pass@k (R1-Zero: 1)").min(0.05).max(5);
  flags.add("--beta", cfg.beta, "weight of the k3 KL to the RL's starting model (R1-Zero: 0.001)").min(0).max(10);
  flags.add("--format-weight", cfg.format_weight, "reward = accuracy + this x format").min(0).max(10);
}

void quick_settings(R1ZeroConfig& cfg) {
  cfg.model_size = "tiny";
  cfg.pretrain_steps = std::min<int64_t>(cfg.pretrain_steps, 4);
  cfg.pretrain_batch = std::min<int64_t>(cfg.pretrain_batch, 4);
  cfg.rl_steps = std::min<int64_t>(cfg.rl_steps, 2);
  cfg.prompts = std::min<int64_t>(cfg.prompts, 2);
  cfg.group = std::min<int64_t>(cfg.group, 2);
  cfg.eval_n = std::min(cfg.eval_n, 3);
  cfg.probe_n = 2;
  cfg.pass_problems = 2;
  cfg.pass_n = 4;
  cfg.eval_every = 1;
}

Policy pretrain_r1_zero_base(const R1ZeroConfig& cfg, const std::set<std::string>& exclude, uint64_t seed, const std::function<bool()>& stop) {
  Rng rng(seed);
  Policy base;
  base.codec = TaskCodec{corpus_tokenizer(cfg.vocab), r1_zero_template()};
  base.model = std::make_unique<ch06::DeepSeekModel>(task_model_config(cfg.model_size, base.codec.tok.vocab_size()), rng);
  TrainerConfig tc = post_training_config(cfg.pretrain_steps, cfg.pretrain_batch, cfg.pretrain_lr, cfg.pretrain_lr / 10);
  tc.warmup = std::min<int64_t>(50, std::max<int64_t>(cfg.pretrain_steps / 10, 1));
  tc.progress = true;
  SftTrainer pre(*base.model, tc);
  pretrain_documents(
      pre, base.codec, [&](Rng& r) { return corpus_doc(cfg.mix, cfg.pretrain_lengths, exclude, r); }, cfg.pretrain_steps, rng, stop);
  return base;
}

BaseSkills measure_base(ch06::DeepSeekModel& model, const TaskCodec& codec, const std::vector<Problem>& held_out,
                        const std::vector<Problem>& pass_set, const R1ZeroConfig& cfg, uint64_t seed) {
  BaseSkills s;
  s.direct = direct_sum_exact_match(model, codec, held_out);
  s.textbook = textbook_exact_match(model, codec, held_out);
  s.templ = greedy_eval(model, codec, held_out);
  const Rollouts r = sample_rollouts(model, codec, pass_set, cfg.pass_n, rl_sampling(codec, pass_set, cfg.temperature, seed));
  s.pass_at_k.assign(static_cast<size_t>(cfg.pass_n), 0.0);
  for (size_t p = 0; p < pass_set.size(); ++p) {
    int64_t c = 0;
    for (int64_t g = 0; g < cfg.pass_n; ++g) c += r.correct(static_cast<int64_t>(p) * cfg.pass_n + g);
    for (int64_t k = 1; k <= cfg.pass_n; ++k) s.pass_at_k[static_cast<size_t>(k - 1)] += pass_at_k(cfg.pass_n, c, k) / static_cast<double>(pass_set.size());
  }
  for (int64_t i = 0; i < std::min<int64_t>(r.rows(), 4); ++i) s.examples.push_back(r.texts[static_cast<size_t>(i)]);
  for (int64_t i = 0; i < r.rows(); ++i) {
    s.worked_share += writes_worked_solution(r.problem(i), r.texts[static_cast<size_t>(i)]);
    s.format_share += r.rewards[static_cast<size_t>(i)].format;
  }
  s.worked_share /= static_cast<double>(std::max<int64_t>(r.rows(), 1));
  s.format_share /= static_cast<double>(std::max<int64_t>(r.rows(), 1));
  return s;
}

ZeroTrace run_r1_zero(ch06::DeepSeekModel& policy, const TaskCodec& codec, const std::vector<Problem>& probe, const std::set<std::string>& exclude,
                      const R1ZeroConfig& cfg, uint64_t seed, const std::string& label, const std::function<bool()>& stop,
                      const std::function<float(const Problem&, std::string_view)>& extra_reward) {
  GrpoConfig gc;
  gc.prompts = cfg.prompts;
  gc.group = cfg.group;
  gc.format_weight = cfg.format_weight;   // R1 sec. 2.2.2: the accuracy rule and the format rule, nothing else
  gc.temperature = cfg.temperature;
  gc.loss.beta = cfg.beta;
  gc.extra_reward = extra_reward;
  GrpoLearner grpo(policy, codec, post_training_config(cfg.rl_steps, cfg.prompts * cfg.group, cfg.lr, cfg.lr), gc);
  ZeroTrace z;
  grpo.observe = [&](const Rollouts& r) {
    double worked = 0;
    for (int64_t i = 0; i < r.rows(); ++i) worked += writes_worked_solution(r.problem(i), r.texts[static_cast<size_t>(i)]);
    z.mean_length.push_back(r.mean_length());
    z.worked_share.push_back(100 * worked / static_cast<double>(std::max<int64_t>(r.rows(), 1)));
  };
  RlRunConfig rc;
  rc.task = Task::addition;
  rc.lengths = cfg.lengths;
  rc.steps = cfg.rl_steps;
  rc.prompts = cfg.prompts;
  rc.eval_every = cfg.eval_every;
  rc.exclude = exclude;
  rc.seed = seed;
  rc.label = label;
  // The prompts carry the textbook reasoning only for the sampling budget; the reward never reads it.
  z.rl = run_rl([&](const std::vector<Problem>& ps, uint64_t s) {
    std::vector<Problem> worked;
    for (const Problem& p : ps) worked.push_back(with_textbook_reasoning(p));
    return grpo.step(worked, s);
  }, policy, codec, probe, rc, cfg.prompts * cfg.group, stop);
  return z;
}

std::vector<Problem> r1_zero_problems(const std::vector<int>& lengths, int n, Split split, uint64_t seed) {
  std::vector<Problem> out;
  for (const Problem& p : flatten(held_out_sets(Task::addition, lengths, n, seed, split))) out.push_back(with_textbook_reasoning(p));
  return out;
}

MeanSd mean_sd(const std::vector<double>& v) {
  MeanSd m;
  if (v.empty()) return m;
  m.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  if (v.size() < 2) return m;
  double ss = 0;
  for (double x : v) ss += (x - m.mean) * (x - m.mean);
  m.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  return m;
}

}  // namespace ds::ch07
