// ch07_r1_recipe: DeepSeek-R1's four stages (R1 paper sec. 2.3) in miniature, from R1-Zero's base
// (ch07_r1_zero's, which never saw the template):
//   1. cold start: SFT of the base on a few long worked examples in the template (sec. 2.3.1);
//   2. reasoning-oriented RL: GRPO with the accuracy and format rules plus a language-consistency
//      reward (sec. 2.3.2);
//   3. rejection sampling from the stage-2 model, keeping only verified, well-formed, consistent
//      answers, and SFT of the base on them (sec. 2.3.3);
//   4. RL for all scenarios: GRPO with the rule-based rewards from the stage-3 model (sec. 2.3.4).
// After each stage: greedy exact match per operand length, format rate and mean length.
#include <cstdio>

#include "ch07/r1_zero.hpp"
#include "common/interrupt.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {

struct RecipeConfig {
  std::string base_dir = "runs/ch07_r1_zero/base";
  R1ZeroConfig rl;                          // both RL stages' GRPO settings and the base's settings
  int64_t cold_examples = 16, cold_steps = 40, batch = 16;
  float cold_lr = 1e-3f;
  float consistency_weight = 0.5f;          // stage 2: + this x language consistency
  int64_t stage2_steps = 20, stage4_steps = 20;
  int64_t rs_prompts = 64, rs_k = 4, sft_steps = 60;
  float sft_lr = 1e-3f;
  std::vector<int> eval_lengths = {1, 2, 3, 4};
  int eval_n = 50;
};

struct StageRow {
  std::string name;
  std::vector<double> em;   // per eval length
  double format = 0, length = 0, consistency = 0, cpu = 0;
};

struct Eval {
  std::vector<std::vector<Problem>> by_length;
  std::vector<Problem> probe;
  std::set<std::string> exclude;
};

Eval make_eval(const RecipeConfig& cfg) {
  Eval e;
  for (int len : cfg.eval_lengths) e.by_length.push_back(r1_zero_problems({len}, cfg.eval_n, ch07::Split::test, 7));
  e.probe = r1_zero_problems(cfg.rl.lengths, cfg.rl.probe_n, ch07::Split::train, 1001);
  for (const Problem& p : e.probe) e.exclude.insert(problem_key(p));
  return e;
}

// Greedy decoding of every held-out problem, judged by the verifier, per length.
StageRow evaluate(const std::string& name, ch06::DeepSeekModel& m, const TaskCodec& codec, const Eval& e, double cpu0) {
  StageRow row{name, {}, 0, 0, 0, 0};
  double rows = 0;
  for (const auto& set : e.by_length) {
    ch02::SamplingConfig greedy;
    greedy.max_new_tokens = completion_budget(codec, set);
    const Rollouts r = sample_rollouts(m, codec, set, 1, greedy);
    row.em.push_back(r.mean_accuracy());
    for (int64_t i = 0; i < r.rows(); ++i) {
      row.format += r.rewards[static_cast<size_t>(i)].format;
      row.consistency += textbook_language_share(r.texts[static_cast<size_t>(i)]);
      row.length += static_cast<double>(r.completions[static_cast<size_t>(i)].size());
    }
    rows += static_cast<double>(r.rows());
  }
  row.format /= rows;
  row.consistency /= rows;
  row.length /= rows;
  row.cpu = process_cpu_seconds() - cpu0;
  return row;
}

Policy load_or_pretrain_base(const RecipeConfig& cfg, const Eval& e, uint64_t seed) {
  if (cfg.base_dir.empty()) return pretrain_r1_zero_base(cfg.rl, e.exclude, seed, [] { return interrupted(); });
  Policy p = load_policy(cfg.base_dir, "ch07_r1_zero");
  p.codec.tmpl = r1_zero_template();
  return p;
}

// Stage 1: a few long worked examples (the longest lengths RL trains on) in the template.
void cold_start(ch06::DeepSeekModel& m, const TaskCodec& codec, const RecipeConfig& cfg, Rng& rng) {
  std::vector<std::vector<int32_t>> prompts, completions;
  for (const Problem& p : sample_train_problems(Task::addition, {cfg.rl.lengths.back()}, static_cast<int>(cfg.cold_examples), rng)) {
    prompts.push_back(codec.prompt(p));
    completions.push_back(codec.completion(with_textbook_reasoning(p)));
  }
  SftTrainer sft(m, post_training_config(cfg.cold_steps, cfg.batch, cfg.cold_lr, cfg.cold_lr / 10));
  sft_on_examples(sft, prompts, completions, codec.eot(), cfg.cold_steps, rng, [] { return interrupted(); });
}

// Stages 2 and 4: GRPO; stage 2 adds the language-consistency reward.
ZeroTrace rl_stage(ch06::DeepSeekModel& m, const TaskCodec& codec, const RecipeConfig& cfg, const Eval& e, int64_t steps, float consistency,
                   uint64_t seed, const std::string& label) {
  R1ZeroConfig rc = cfg.rl;
  rc.rl_steps = steps;
  return run_r1_zero(
      m, codec, e.probe, e.exclude, rc, seed, label, [] { return interrupted(); },
      consistency > 0 ? [consistency](const Problem&, std::string_view c) { return consistency * static_cast<float>(textbook_language_share(c)); }
                      : std::function<float(const Problem&, std::string_view)>{});
}

// Stage 3: sample from the RL model, keep what is right, well formed and consistent; SFT the base on it.
int64_t rejection_sampling_sft(ch06::DeepSeekModel& from, ch06::DeepSeekModel& base, const TaskCodec& codec, const RecipeConfig& cfg, const Eval& e,
                               Rng& rng, uint64_t seed) {
  RlRunConfig rc;
  rc.lengths = cfg.rl.lengths;
  rc.exclude = e.exclude;
  std::vector<Problem> ps;
  for (const Problem& p : draw_rl_prompts(rc, static_cast<int>(cfg.rs_prompts), rng)) ps.push_back(with_textbook_reasoning(p));
  Rollouts r = sample_rollouts(from, codec, ps, cfg.rs_k, rl_sampling(codec, ps, cfg.rl.temperature, seed));
  for (int64_t i = 0; i < r.rows(); ++i)   // R1 filters out chains of thought with mixed languages
    if (textbook_language_share(r.texts[static_cast<size_t>(i)]) < 1.0) r.rewards[static_cast<size_t>(i)].format = 0;
  const Verified kept = verified_completions(r, true);
  std::printf("stage 3: %lld samples, %lld right, well formed and consistent, %zu distinct kept for SFT of the base\n", (long long)r.rows(),
              (long long)kept.accepted, kept.completions.size());
  if (kept.completions.empty()) return 0;
  SftTrainer sft(base, post_training_config(cfg.sft_steps, cfg.batch, cfg.sft_lr, cfg.sft_lr / 10));
  sft_on_examples(sft, kept.prompts, kept.completions, codec.eot(), cfg.sft_steps, rng, [] { return interrupted(); });
  return static_cast<int64_t>(kept.completions.size());
}

void report(const std::vector<StageRow>& rows, const RecipeConfig& cfg, const std::string& out, int64_t kept) {
  std::vector<std::string> head = {"stage"};
  for (int len : cfg.eval_lengths) head.push_back(fmt("%d digits", len));
  for (const char* h : {"format", "consistent", "mean tokens", "CPU s"}) head.push_back(h);
  Table t(head);
  Summary s;
  BarChart bars{"DeepSeek-R1's four stages in miniature: held-out greedy exact match after each", "", "%", {}, {}};
  for (size_t l = 0; l < cfg.eval_lengths.size(); ++l) bars.series.push_back({fmt("%d-digit sums", cfg.eval_lengths[l]), {}, {}});
  for (size_t i = 0; i < rows.size(); ++i) {
    const StageRow& r = rows[i];
    std::vector<std::string> cells = {r.name};
    for (size_t l = 0; l < r.em.size(); ++l) {
      cells.push_back(fmt("%.1f%%", 100 * r.em[l]));
      s.set(fmt("stage%zu.exact_match.len%d", i, cfg.eval_lengths[l]), r.em[l]);
      bars.series[l].x.push_back(static_cast<double>(i));
      bars.series[l].y.push_back(100 * r.em[l]);
    }
    for (const std::string& c : {fmt("%.1f%%", 100 * r.format), fmt("%.1f%%", 100 * r.consistency), fmt("%.1f", r.length), fmt("%.0f", r.cpu)})
      cells.push_back(c);
    t.row(cells);
    bars.categories.push_back(fmt("%zu", i));
    s.set(fmt("stage%zu.format_rate", i), r.format);
    s.set(fmt("stage%zu.mean_length", i), r.length);
    s.set(fmt("stage%zu.cpu_seconds", i), r.cpu);
  }
  std::printf("\n");
  t.print();
  bars.caption = "0 base, 1 cold-start SFT, 2 reasoning RL, 3 rejection sampling + SFT of the base, 4 final RL.";
  write_bar_chart(out + "/stages.svg", bars);
  s.set("kept_completions", static_cast<double>(kept));
  s.write(out + "/summary.json");
  std::printf("wrote %s/stages.svg, summary.json\n", out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_r1_recipe", [&] {
    Flags flags("ch07_r1_recipe", "DeepSeek-R1's four stages in miniature: cold start, reasoning RL, rejection sampling + SFT, final RL.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_r1_recipe");
    RecipeConfig cfg;
    std::string lengths = "2-3", eval_lengths = "1-4";
    flags.add("--base", cfg.base_dir, "R1-Zero's base (ch07_r1_zero's OUT/base); empty: pretrain one here (ch07_r1_zero's settings)");
    flags.add("--lengths", lengths, "operand lengths of the RL prompts and of the rejection-sampling prompts");
    flags.add("--eval-lengths", eval_lengths, "operand lengths of the held-out test sets, one column each");
    flags.add("--eval-n", cfg.eval_n, "held-out test problems per length").min(1).max(2000);
    flags.add("--cold-examples", cfg.cold_examples, "stage 1: worked examples in the template (the longest --lengths)").min(1).max(100000);
    flags.add("--cold-steps", cfg.cold_steps, "stage 1: SFT steps").min(1).max(100000);
    flags.add("--cold-lr", cfg.cold_lr, "stage 1: SFT learning rate").min(1e-7).max(1);
    flags.add("--stage2-steps", cfg.stage2_steps, "stage 2: GRPO steps").min(1).max(100000);
    flags.add("--consistency-weight", cfg.consistency_weight, "stage 2: reward + this x language consistency").min(0).max(10);
    flags.add("--rs-prompts", cfg.rs_prompts, "stage 3: training prompts sampled").min(1).max(100000);
    flags.add("--rs-k", cfg.rs_k, "stage 3: completions per prompt").min(1).max(256);
    flags.add("--sft-steps", cfg.sft_steps, "stage 3: SFT steps of the base on the kept answers").min(1).max(100000);
    flags.add("--sft-lr", cfg.sft_lr, "stage 3: SFT learning rate").min(1e-7).max(1);
    flags.add("--stage4-steps", cfg.stage4_steps, "stage 4: GRPO steps").min(1).max(100000);
    flags.add("--batch", cfg.batch, "sequences per SFT step (stages 1 and 3)").min(1).max(4096);
    add_grpo_flags(flags, cfg.rl);
    flags.parse(argc, argv);
    if (run.quick) {
      if (cfg.base_dir == RecipeConfig{}.base_dir) cfg.base_dir.clear();   // pretrain a tiny base unless one is named
      quick_settings(cfg.rl);
      cfg.cold_examples = cfg.cold_steps = cfg.sft_steps = 2;
      cfg.stage2_steps = cfg.stage4_steps = 1;
      cfg.rs_prompts = cfg.rs_k = 2;
      cfg.batch = 2;
      cfg.eval_n = 2;
    }
    cfg.rl.lengths = parse_lengths(lengths, 8);
    cfg.eval_lengths = parse_lengths(eval_lengths, 8);
    RunReport run_report = start_run(run, flags);
    print_header("ch07_r1_recipe: DeepSeek-R1's four stages in miniature",
                 "From R1-Zero's base: cold-start SFT, reasoning RL with a language-consistency reward, rejection sampling + SFT of the base, "
                 "final RL. The table: held-out exact match by operand length, format, consistency and length after each stage.");
    catch_interrupt();
    const Eval e = make_eval(cfg);
    Rng rng(run.seed);
    const double cpu0 = process_cpu_seconds();
    Policy base = load_or_pretrain_base(cfg, e, run.seed);
    const TaskCodec& codec = base.codec;
    std::vector<StageRow> rows = {evaluate("0. base (never saw the template)", *base.model, codec, e, cpu0)};
    std::unique_ptr<ch06::DeepSeekModel> m = base.model->clone();
    cold_start(*m, codec, cfg, rng);
    rows.push_back(evaluate(fmt("1. cold start: SFT on %lld worked examples", (long long)cfg.cold_examples), *m, codec, e, cpu0));
    rl_stage(*m, codec, cfg, e, cfg.stage2_steps, cfg.consistency_weight, run.seed + 2, "stage 2: reasoning RL");
    rows.push_back(evaluate("2. reasoning RL: accuracy + format + consistency", *m, codec, e, cpu0));
    save_policy(run.out + "/stage2", *m, codec.tok);
    std::unique_ptr<ch06::DeepSeekModel> sft = base.model->clone();
    const int64_t kept = rejection_sampling_sft(*m, *sft, codec, cfg, e, rng, run.seed + 3);
    rows.push_back(evaluate("3. rejection sampling + SFT of the base", *sft, codec, e, cpu0));
    rl_stage(*sft, codec, cfg, e, cfg.stage4_steps, 0.f, run.seed + 4, "stage 4: final RL");
    rows.push_back(evaluate("4. final RL: accuracy + format", *sft, codec, e, cpu0));
    save_policy(run.out + "/final", *sft, codec.tok);
    report(rows, cfg, run.out, kept);
    return interrupted() ? 130 : 0;
  });
}
