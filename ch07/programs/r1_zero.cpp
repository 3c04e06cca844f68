// ch07_r1_zero: DeepSeek-R1-Zero in miniature (R1 paper sec. 2.2). A base pretrained on a corpus
// like a real base model's (plain sums, textbook worked additions, markup with tags; never the
// template: base_corpus.hpp), then GRPO with R1-Zero's two rule-based rewards only (accuracy and
// format, sec. 2.2.2) on R1-Zero's template. Reports, over --seeds runs: what the base can do
// (directly, worked, in the template, pass@k), held-out exact match before and after RL, and R1's
// Figure 3 in small: completion length and the share of worked solutions inside <think> by step.
#include <cstdio>
#include <functional>

#include "ch07/r1_zero.hpp"
#include "common/interrupt.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {

struct SeedRun {
  uint64_t seed = 0;
  BaseSkills base;
  GreedyReport after;
  ZeroTrace trace;
  double cpu_seconds = 0;
};

struct Sets {
  std::vector<Problem> test, probe, pass;
  std::set<std::string> exclude;   // the validation probe: never pretrained on, never an RL prompt
};

Sets make_sets(const R1ZeroConfig& cfg) {
  Sets s;
  s.test = r1_zero_problems(cfg.lengths, cfg.eval_n, ch07::Split::test, 7);
  s.probe = r1_zero_problems(cfg.lengths, cfg.probe_n, ch07::Split::train, 1001);
  for (const auto& set : held_out_sets(Task::addition, cfg.lengths, cfg.pass_problems, 7))
    for (const Problem& p : set) s.pass.push_back(with_textbook_reasoning(p));
  for (const Problem& p : s.probe) s.exclude.insert(problem_key(p));
  return s;
}

SeedRun run_seed(const R1ZeroConfig& cfg, const Sets& sets, uint64_t seed, const std::string& out, bool save, const std::string& base_dir) {
  SeedRun r;
  r.seed = seed;
  const double cpu0 = process_cpu_seconds();
  Policy p;
  if (!base_dir.empty()) {
    p = load_policy(base_dir, "ch07_r1_zero");
    p.codec.tmpl = r1_zero_template();
  } else {
    p = pretrain_r1_zero_base(cfg, sets.exclude, seed, [] { return interrupted(); });
  }
  if (save) save_policy(out + "/base", *p.model, p.codec.tok);
  r.base = measure_base(*p.model, p.codec, sets.test, sets.pass, cfg, seed + 17);
  std::printf("seed %llu, the base: direct %.1f%%, worked (textbook) %.1f%%, in the template %.1f%% (%.1f%% well formed), pass@%lld %.1f%%, "
              "%.1f%% of samples well formed, %.1f%% worked in <think>\n",
              (unsigned long long)seed, 100 * r.base.direct, 100 * r.base.textbook, 100 * r.base.templ.exact_match, 100 * r.base.templ.format_rate,
              (long long)cfg.pass_n, 100 * r.base.pass_at_k.back(), 100 * r.base.format_share, 100 * r.base.worked_share);
  for (const std::string& x : r.base.examples) std::printf("  sample: %s\n", x.c_str());
  r.trace = run_r1_zero(*p.model, p.codec, sets.probe, sets.exclude, cfg, seed + 1, "R1-Zero GRPO, seed " + std::to_string(seed),
                        [] { return interrupted(); });
  r.after = greedy_eval(*p.model, p.codec, sets.test);
  if (save) save_policy(out + "/r1_zero", *p.model, p.codec.tok);
  r.cpu_seconds = process_cpu_seconds() - cpu0;
  return r;
}

std::string pct_spread(const std::vector<SeedRun>& runs, const std::function<double(const SeedRun&)>& f) {
  std::vector<double> v;
  for (const SeedRun& r : runs) v.push_back(100 * f(r));
  const MeanSd m = mean_sd(v);
  return runs.size() > 1 ? fmt("%.1f%% +- %.1f", m.mean, m.sd) : fmt("%.1f%%", m.mean);
}

void set_stat(Summary& s, const std::string& key, const std::vector<SeedRun>& runs, const std::function<double(const SeedRun&)>& f) {
  std::vector<double> v;
  for (const SeedRun& r : runs) v.push_back(f(r));
  const MeanSd m = mean_sd(v);
  s.set(key + ".mean", m.mean);
  s.set(key + ".sd", m.sd);
  s.set(key + ".per_seed", v);
}

// One line per seed of a per-step series.
void seed_chart(const std::vector<SeedRun>& runs, const std::string& path, const std::string& title, const std::string& ylabel,
                const std::function<std::pair<std::vector<double>, std::vector<double>>(const SeedRun&)>& xy, const std::string& caption, int smooth) {
  LineChart c{title, "GRPO step", ylabel, {}};
  for (const SeedRun& r : runs) {
    const auto [x, y] = xy(r);
    c.series.push_back({"seed " + std::to_string(r.seed), x, y, false, smooth});
  }
  c.caption = caption;
  write_line_chart(path, c);
}

void report(const std::vector<SeedRun>& runs, const R1ZeroConfig& cfg, const std::string& out) {
  if (runs.empty()) return;
  using F = std::function<double(const SeedRun&)>;
  const F direct = [](const SeedRun& r) { return r.base.direct; }, textbook = [](const SeedRun& r) { return r.base.textbook; },
          before = [](const SeedRun& r) { return r.base.templ.exact_match; }, pass = [](const SeedRun& r) { return r.base.pass_at_k.back(); },
          after = [](const SeedRun& r) { return r.after.exact_match; }, fmt_after = [](const SeedRun& r) { return r.after.format_rate; },
          gain = [](const SeedRun& r) { return r.after.exact_match - r.base.templ.exact_match; };
  Table t({"seed", "base: direct", "base: worked", "base: template", fmt("pass@%lld", (long long)cfg.pass_n), "after RL", "gain", "format",
           "mean tokens", "CPU s"});
  for (const SeedRun& r : runs)
    t.row({std::to_string(r.seed), pct_spread({r}, direct), pct_spread({r}, textbook), pct_spread({r}, before), pct_spread({r}, pass),
           pct_spread({r}, after), fmt("%+.1f", 100 * gain(r)), pct_spread({r}, fmt_after), fmt("%.1f", r.after.mean_length), fmt("%.0f", r.cpu_seconds)});
  if (runs.size() > 1)
    t.row({"mean +- sd", pct_spread(runs, direct), pct_spread(runs, textbook), pct_spread(runs, before), pct_spread(runs, pass), pct_spread(runs, after),
           pct_spread(runs, gain), pct_spread(runs, fmt_after), "", ""});
  std::printf("\nheld-out test sums (%d per operand length), greedy exact match:\n", cfg.eval_n);
  t.print();
  const std::string seeds = runs.size() > 1 ? " (one line per seed)" : "";
  seed_chart(runs, out + "/figure3.svg", "R1-Zero in miniature: mean completion length during RL" + seeds, "tokens per completion",
             [](const SeedRun& r) { return std::make_pair(r.trace.rl.step, r.trace.mean_length); },
             "R1's Figure 3 in small: the completions grow as the policy learns to work the sum out inside <think> before answering.", 5);
  seed_chart(runs, out + "/worked.svg", "Completions that write a worked solution inside <think>" + seeds, "% of the step's samples",
             [](const SeedRun& r) { return std::make_pair(r.trace.rl.step, r.trace.worked_share); },
             "Worked: well formed, one column sum per column inside <think>. No reward names it; the accuracy reward selects it.", 5);
  seed_chart(runs, out + "/accuracy.svg", "Greedy exact match on the validation probe during RL" + seeds, "%",
             [](const SeedRun& r) { return std::make_pair(r.trace.rl.eval_step, r.trace.rl.eval_em); },
             "Validation problems from the training split, never a prompt: held-out accuracy rising from the base's 0 (R1's Figure 2 in small).", 0);
  LineChart pk{"pass@k of the base in R1-Zero's template, before any RL", "k", "%", {}};
  for (const SeedRun& r : runs) {
    std::vector<double> k, y;
    for (size_t i = 0; i < r.base.pass_at_k.size(); ++i) {
      k.push_back(static_cast<double>(i + 1));
      y.push_back(100 * r.base.pass_at_k[i]);
    }
    pk.series.push_back({"seed " + std::to_string(r.seed), k, y});
  }
  pk.caption = "Above 0 at some k: some group holds a right, well-formed sample, so GRPO's advantages are not all 0 and RL can start.";
  write_line_chart(out + "/pass_at_k.svg", pk);
  Summary s;
  s.set("seeds", static_cast<double>(runs.size()));
  set_stat(s, "base.direct_exact_match", runs, direct);
  set_stat(s, "base.textbook_exact_match", runs, textbook);
  set_stat(s, "base.exact_match", runs, before);
  s.set("pass_n", static_cast<double>(cfg.pass_n));
  set_stat(s, "base.pass_at_n", runs, pass);
  set_stat(s, "after.exact_match", runs, after);
  set_stat(s, "after.format_rate", runs, fmt_after);
  set_stat(s, "after.mean_length", runs, [](const SeedRun& r) { return r.after.mean_length; });
  set_stat(s, "gain", runs, gain);
  set_stat(s, "cpu_seconds", runs, [](const SeedRun& r) { return r.cpu_seconds; });
  s.write(out + "/summary.json");
  std::printf("wrote %s/{figure3,worked,accuracy,pass_at_k}.svg, summary.json, checkpoints base/ and r1_zero/ (the first seed's)\n", out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_r1_zero", [&] {
    Flags flags("ch07_r1_zero", "DeepSeek-R1-Zero in miniature: a base pretrained without the template, then GRPO with the accuracy and format rules only.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_r1_zero");
    R1ZeroConfig cfg;
    int64_t seeds = 1;
    std::string lengths = "2-3", pretrain_lengths = "1-3", base_dir;
    flags.add("--base", base_dir, "start RL from this base (an earlier run's OUT/base) instead of pretraining one");
    flags.add("--seeds", seeds, "runs with seeds --seed, --seed+1, ...: each pretrains its own base and runs its own RL").min(1).max(100);
    flags.add_choice("--model", cfg.model_size, {"small", "tiny"}, "size of the base (task_model.hpp)");
    flags.add("--pretrain-steps", cfg.pretrain_steps, "pretraining steps of the base on the corpus").min(0).max(1000000);
    flags.add("--pretrain-batch", cfg.pretrain_batch, "documents per pretraining step").min(1).max(4096);
    flags.add("--pretrain-lr", cfg.pretrain_lr, "peak pretraining learning rate (warmup, cosine to a tenth)").min(1e-7).max(1);
    flags.add("--pretrain-lengths", pretrain_lengths, "operand lengths of the corpus's sums");
    flags.add("--textbook", cfg.mix.textbook, "share of textbook worked additions in the corpus").min(0).max(1);
    flags.add("--plain", cfg.mix.plain, "share of plain sums in the corpus").min(0).max(1);
    flags.add("--markup", cfg.mix.markup, "share of markup documents in the corpus").min(0).max(1);
    flags.add("--lengths", lengths, "operand lengths of the RL prompts and of the held-out sets");
    flags.add("--rl-steps", cfg.rl_steps, "GRPO steps").min(1).max(100000);
    add_grpo_flags(flags, cfg);
    flags.add("--eval-every", cfg.eval_every, "probe greedy exact match on the validation problems every this many steps").min(1);
    flags.add("--eval-n", cfg.eval_n, "held-out test problems per length").min(1).max(2000);
    flags.parse(argc, argv);
    if (run.quick) quick_settings(cfg);
    cfg.lengths = parse_lengths(lengths, 8);
    cfg.pretrain_lengths = parse_lengths(pretrain_lengths, 8);
    RunReport run_report = start_run(run, flags);
    (void)run_report;
    print_header("ch07_r1_zero: R1-Zero in miniature", "A base that never saw the template, GRPO with the accuracy and format rules only.");
    catch_interrupt();
    const Sets sets = make_sets(cfg);
    std::vector<SeedRun> runs;
    for (int64_t i = 0; i < seeds && !interrupted(); ++i) runs.push_back(run_seed(cfg, sets, run.seed + static_cast<uint64_t>(i), run.out, i == 0, base_dir));
    report(runs, cfg, run.out);
    return interrupted() ? 130 : 0;
  });
}
