// ch07_grpo: GRPO (DeepSeekMath eq. 3 and 21, DeepSeek-R1 sec. 2.2) from SFT starts on the long
// operands the SFT stage left half-learned: G samples per prompt, rewards from the verifier,
// group-relative advantages, the clipped ratio over mu passes per batch, the k3 KL to the frozen
// SFT model. Measures greedy exact match on held-out long problems before and after, against two
// controls given GRPO's CPU time from the same start: more SFT on the SFT stage's finite labelled
// set, and answers-only SFT on RL's own prompts (what the verifier knows). With --seeds N, N SFT
// starts and N runs, every figure as mean and spread.
#include <cmath>
#include <cstdio>

#include "ch07/rl_loop.hpp"
#include "ch07/seeds.hpp"
#include "ch07/sft_control.hpp"
#include "common/interrupt.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {

struct Settings {
  int64_t steps = 12, prompts = 16, group = 8, mu = 1, eval_every = 4, pass_n = 16, max_draws = 4;
  int eval_n = 40, pass_problems = 24, seeds = 1;
  // T = 1, dynamic sampling and lr 1e-4 were chosen on the validation set (ch07/README.md, the
  // validation table under `ch07_grpo`); T = 1 is also R1-Zero's rollout temperature.
  float lr = 1e-4f, beta = 0.04f, eps = 0.2f, eps_high = 0.2f, temperature = 1.f, format_weight = 0.f;
  float control_lr = 3e-4f, answers_lr = 3e-4f;
  std::string loss_type = "grpo", scale = "group", eval_on = "test";
  bool no_control = false, no_dynamic_sampling = false;
};

void add_grpo_flags(Flags& flags, Settings& s) {
  flags.add("--seeds", s.seeds, "SFT starts and GRPO runs: 1 = the --sft checkpoint; N > 1 trains N starts with ch07_sft's recipe "
                                "(seeds --seed .. --seed + N - 1) and reports mean and spread").min(1).max(20);
  flags.add("--steps", s.steps, "GRPO steps (each samples --prompts x --group completions); the README's runs are 200").min(1).max(1000000);
  flags.add("--prompts", s.prompts, "prompts per step").min(1).max(4096);
  flags.add("--group", s.group, "G, completions per prompt").min(2).max(256);
  flags.add("--mu", s.mu, "optimizer passes per sampled batch (DeepSeekMath's mu; 1 = on-policy: the ratio is 1 and the clip never binds)").min(1).max(64);
  flags.add("--lr", s.lr, "learning rate (constant after a 5-step warmup)").min(1e-7).max(1);
  flags.add("--beta", s.beta, "weight of the k3 KL to the frozen SFT model (DeepSeekMath: 0.04; 0 drops the reference)").min(0).max(10);
  flags.add("--eps", s.eps, "lower clip of the ratio, 1 - eps").min(0).max(1);
  flags.add("--eps-high", s.eps_high, "upper clip of the ratio, 1 + eps_high (DAPO's clip-higher: 0.28)").min(0).max(10);
  flags.add_choice("--loss-type", s.loss_type, {"grpo", "dapo", "dr_grpo"}, "normalisation of the loss (grpo.hpp)");
  flags.add_choice("--scale-rewards", s.scale, {"group", "batch", "none"}, "what the advantages are divided by");
  flags.add("--temperature", s.temperature,
            "sampling temperature of the rollouts (DeepSeek-R1 samples its RL rollouts at 1); the policy trained is logits / T, as TRL does")
      .min(0.05).max(5);
  flags.add_flag("--no-dynamic-sampling", s.no_dynamic_sampling,
                 "turn off DAPO's dynamic sampling (on by default: keep only groups whose rewards differ, drawing more prompts until --prompts "
                 "such groups fill the step; every sample drawn counts, and the controls get the CPU time they took)");
  flags.add("--max-draws", s.max_draws, "dynamic sampling: at most this many batches of --prompts prompts drawn per step").min(1).max(64);
  flags.add("--format-weight", s.format_weight, "reward = accuracy + this x format reward").min(0).max(10);
  flags.add("--control-lr", s.control_lr, "learning rate of the SFT-only control (the labelled set, batch 32)").min(1e-7).max(1);
  flags.add("--answers-lr", s.answers_lr, "learning rate of the answers-only control (RL's prompts with their answers, batch 32)").min(1e-7).max(1);
  flags.add_flag("--no-control", s.no_control, "skip both controls");
  flags.add("--eval-every", s.eval_every, "greedy exact match on a probe of the long set every this many steps").min(1);
  flags.add("--eval-n", s.eval_n, "held-out problems per length for the before/after exact match").min(1).max(2000);
  flags.add_choice("--eval-on", s.eval_on, {"test", "validation"},
                   "held-out problems of every evaluation: the test split, or validation problems of the training split that GRPO's "
                   "prompts and the labelled set never contain (choose settings on validation, report test once)");
  flags.add("--pass-problems", s.pass_problems, "held-out problems for pass@k").min(1).max(1000);
  flags.add("--pass-n", s.pass_n, "samples per problem for pass@k (k = 1..n)").min(1).max(256);
}

void make_quick(Settings& s) {
  s.steps = std::min<int64_t>(s.steps, 2);
  s.prompts = std::min<int64_t>(s.prompts, 2);
  s.group = std::min<int64_t>(s.group, 4);
  s.eval_n = std::min(s.eval_n, 4);
  s.pass_problems = std::min(s.pass_problems, 2);
  s.pass_n = std::min<int64_t>(s.pass_n, 4);
  s.eval_every = 1;
}

GrpoConfig grpo_config(const Settings& s) {
  GrpoConfig gc;
  gc.prompts = s.prompts;
  gc.group = s.group;
  gc.mu = s.mu;
  gc.temperature = s.temperature;
  gc.format_weight = s.format_weight;
  gc.dynamic_sampling = !s.no_dynamic_sampling;
  gc.max_draws = s.max_draws;
  gc.scale = parse_scale_rewards(s.scale);
  gc.loss.beta = s.beta;
  gc.loss.epsilon = s.eps;
  gc.loss.epsilon_high = s.eps_high;
  gc.loss.loss_type = parse_loss_type(s.loss_type);
  return gc;
}

// The held-out problems of every evaluation: n per length of the test split, or of the RL
// validation set (training split, never a GRPO prompt nor a labelled problem).
std::vector<Problem> held_out(const Settings& s, const RlRunConfig& rc, const std::vector<Problem>& validation, int n) {
  if (s.eval_on == "test") return flatten(held_out_sets(rc.task, rc.lengths, n));
  if (n > kRlValidationProblems) throw std::invalid_argument("--eval-n is at most " + std::to_string(kRlValidationProblems) + " with --eval-on validation");
  std::vector<Problem> out;
  for (int len : rc.lengths) {
    int kept = 0;
    for (const Problem& p : validation)
      if (p.length == len && kept < n) out.push_back(p), ++kept;
  }
  return out;
}

struct Outcome {
  GreedyReport before, after, control, answers;
  std::vector<double> pass_before, pass_after;
  RlTrace trace;
  ControlTrace control_trace, answers_trace;
};

// One start: GRPO from the checkpoint in `dir` with RL seed `seed`, then both controls from the
// same checkpoint for GRPO's CPU time; the GRPO model is saved to out/checkpoint.
Outcome run_start(const Settings& s, const std::string& dir, RlRunConfig rc, uint64_t seed, const std::string& out) {
  Policy start = load_policy(dir);
  const LabelledSet labelled = LabelledSet::load(dir);
  const std::vector<Problem> validation = keep_validation_apart(rc, labelled);   // kept out of GRPO's prompts whatever --eval-on says
  const std::vector<Problem> long_set = held_out(s, rc, validation, s.eval_n), probe = held_out(s, rc, validation, std::min(s.eval_n, 16)),
                             pass_set = held_out(s, rc, validation, std::max(1, s.pass_problems / static_cast<int>(rc.lengths.size())));
  ch06::DeepSeekModel& policy = *start.model;
  const std::unique_ptr<ch06::DeepSeekModel> control = policy.clone(), answers = policy.clone();
  Outcome o;
  o.before = greedy_eval(policy, start.codec, long_set);
  o.pass_before = pass_at_k_curve(policy, start.codec, pass_set, s.pass_n, s.pass_n, 1.f, seed + 1);
  std::printf("start %s: greedy exact match %.1f%% on %zu %s problems\n", dir.c_str(), 100 * o.before.exact_match, long_set.size(), s.eval_on.c_str());
  TrainerConfig tc = post_training_config(s.steps * s.mu, s.prompts * s.group, s.lr, s.lr);   // constant lr: runs of different length compare
  GrpoLearner grpo(policy, start.codec, tc, grpo_config(s));
  rc.steps = s.steps;
  rc.prompts = s.prompts;
  rc.eval_every = s.eval_every;
  rc.seed = seed;
  rc.label = "grpo";
  grpo.refill = [&rc](int64_t n, uint64_t sd) {
    Rng rng(sd);
    return draw_rl_prompts(rc, static_cast<int>(n), rng);
  };
  o.trace = run_rl([&](const std::vector<Problem>& p, uint64_t sd) { return grpo.step(p, sd); }, policy, start.codec, probe, rc, s.prompts * s.group,
                   [] { return interrupted(); });
  o.after = greedy_eval(policy, start.codec, long_set);
  o.pass_after = pass_at_k_curve(policy, start.codec, pass_set, s.pass_n, s.pass_n, 1.f, seed + 1);
  save_policy(out + "/checkpoint", policy, start.codec.tok);
  if (s.no_control || interrupted()) return o;
  ControlConfig cc;
  cc.seconds = o.trace.cpu_seconds;   // CPU time: on a shared machine wall time measures the other users too
  cc.seed = seed + 17;
  cc.lr = s.control_lr;
  o.control_trace = sft_control(*control, start.codec, labelled, {}, cc, [] { return interrupted(); });
  o.control = greedy_eval(*control, start.codec, long_set);
  save_policy(out + "/control_checkpoint", *control, start.codec.tok);
  cc.lr = s.answers_lr;
  o.answers_trace = sft_control(*answers, start.codec, answers_only_source(rc), {}, cc, [] { return interrupted(); });
  o.answers = greedy_eval(*answers, start.codec, long_set);
  save_policy(out + "/answers_control_checkpoint", *answers, start.codec.tok);
  return o;
}

std::string pct(double x) { return fmt("%.1f%%", 100 * x); }
std::string gain(double after, double before) { return fmt("%+.1f", 100 * (after - before)); }

void print_start_table(const Settings& s, const Outcome& o, size_t n_eval) {
  Table t({"model", "greedy exact match (" + s.eval_on + ", " + std::to_string(n_eval) + " problems)", "change", "pass@1", "pass@" + std::to_string(s.pass_n),
           "CPU s"});
  t.row({"SFT start", pct(o.before.exact_match), "", pct(o.pass_before.front()), pct(o.pass_before.back()), ""});
  t.row({"+ GRPO, " + std::to_string(o.trace.steps) + " steps, " + std::to_string(o.trace.drawn) + " samples", pct(o.after.exact_match),
         gain(o.after.exact_match, o.before.exact_match), pct(o.pass_after.front()), pct(o.pass_after.back()), fmt("%.0f", o.trace.cpu_seconds)});
  if (o.control_trace.steps > 0) {
    t.row({"+ SFT-only control, " + std::to_string(o.control_trace.steps) + " steps on the labelled set", pct(o.control.exact_match),
           gain(o.control.exact_match, o.before.exact_match), "", "", fmt("%.0f", o.control_trace.seconds)});
    t.row({"+ answers-only control, " + std::to_string(o.answers_trace.steps) + " steps on RL's prompts", pct(o.answers.exact_match),
           gain(o.answers.exact_match, o.before.exact_match), "", "", fmt("%.0f", o.answers_trace.seconds)});
  }
  t.print();
  std::printf("GRPO: %.0f s sampling, %.0f s training (wall, probes apart); %.0f CPU s in all\n\n", o.trace.sample_seconds, o.trace.train_seconds,
              o.trace.cpu_seconds);
}

// Over the starts: each figure's mean, standard deviation and range; and the summary.
void report_seeds(const Settings& s, const std::vector<Outcome>& os, Summary& summary) {
  std::vector<double> start, grpo, g_gain, ctrl, a_ctrl, lead, a_lead;
  for (const Outcome& o : os) {
    start.push_back(100 * o.before.exact_match);
    grpo.push_back(100 * o.after.exact_match);
    g_gain.push_back(100 * (o.after.exact_match - o.before.exact_match));
    ctrl.push_back(100 * (o.control.exact_match - o.before.exact_match));
    a_ctrl.push_back(100 * (o.answers.exact_match - o.before.exact_match));
    lead.push_back(100 * (o.after.exact_match - std::max(o.control.exact_match, o.answers.exact_match)));
  }
  const bool controls = !os.empty() && os.front().control_trace.steps > 0;
  Table t({"over " + std::to_string(os.size()) + " start(s)", "mean ± sd (min to max)"});
  t.row({"SFT start exact match (%)", spread_text(spread_of(start))});
  t.row({"after GRPO (%)", spread_text(spread_of(grpo))});
  t.row({"GRPO's gain", spread_text(spread_of(g_gain), "%+.1f")});
  if (controls) {
    t.row({"SFT-only control's gain", spread_text(spread_of(ctrl), "%+.1f")});
    t.row({"answers-only control's gain", spread_text(spread_of(a_ctrl), "%+.1f")});
    t.row({"GRPO above the better control", spread_text(spread_of(lead), "%+.1f")});
  }
  t.print();
  const Spread g = spread_of(g_gain);
  summary.set("seeds", static_cast<double>(os.size()));
  summary.set("grpo_gain_points_mean", g.mean);
  summary.set("grpo_gain_points_sd", g.sd);
  summary.set("grpo_gain_points_min", g.min);
  summary.set("sft_exact_match_mean", spread_of(start).mean / 100);
  summary.set("grpo_exact_match_mean", spread_of(grpo).mean / 100);
  if (controls) {
    summary.set("control_exact_match", os.front().control.exact_match);
    summary.set("answers_control_exact_match", os.front().answers.exact_match);
    summary.set("control_gain_points_mean", spread_of(ctrl).mean);
    summary.set("answers_control_gain_points_mean", spread_of(a_ctrl).mean);
    summary.set("grpo_lead_over_controls_min", spread_of(lead).min);
  }
  (void)s;
}

void write_plots(const Settings& s, const std::vector<Outcome>& os, RunReport& report) {
  write_rl_plots(report, "GRPO", os.front().trace);
  LineChart pk{"pass@k on held-out long problems, before and after GRPO", "k (samples per problem)", "pass@k (%)", {}};
  for (size_t i = 0; i < os.size(); ++i) {
    std::vector<double> ks, b, a;
    for (int64_t k = 1; k <= s.pass_n; ++k) {
      ks.push_back(static_cast<double>(k));
      b.push_back(100 * os[i].pass_before[static_cast<size_t>(k - 1)]);
      a.push_back(100 * os[i].pass_after[static_cast<size_t>(k - 1)]);
    }
    const std::string tag = os.size() > 1 ? ", start " + std::to_string(i + 1) : "";
    pk.series.push_back({"SFT start" + tag, ks, b, true});
    pk.series.push_back({"after GRPO" + tag, ks, a});
  }
  pk.logx = true;
  pk.caption = "Dashed: the SFT start; solid: after GRPO. GRPO lifts pass@1 most; whether it adds answers the start could not sample shows at k = 16.";
  report.plot("pass_at_k.svg", pk);
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_grpo", [&] {
    Flags flags("ch07_grpo", "GRPO with verifiable rewards from SFT starts, against two equal-compute SFT controls, over --seeds starts.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_grpo");
    FromSftFlags from;
    Settings s;
    from.add(flags, "operand lengths of the RL prompts and of the held-out long set (ch07_sft's --long)",
             "unused: the GRPO model of start K goes to OUT/checkpoint (one start) or OUT/start-K/checkpoint");
    add_grpo_flags(flags, s);
    flags.parse(argc, argv);
    if (run.quick) make_quick(s);
    RunReport report = start_run(run, flags);
    from.resolve(run.out);
    print_header("ch07_grpo: GRPO with verifiable rewards",
                 "From each SFT start, GRPO samples " + std::to_string(s.group) + " answers per long-operand prompt, rewards the verified ones "
                 "relative to their group and pushes the policy toward them. Watch greedy exact match on held-out long problems rise above "
                 "its SFT start and above two SFT controls given the same CPU time.");
    catch_interrupt();
    const std::vector<std::string> dirs = sft_start_dirs(from, s.seeds, run.seed, run.out, run.quick, [] { return interrupted(); });
    RlRunConfig rc;
    rc.task = from.task;
    rc.lengths = from.lengths;
    std::vector<Outcome> os;
    for (size_t k = 0; k < dirs.size() && !interrupted(); ++k) {
      const std::string out = dirs.size() == 1 ? run.out : run.out + "/start-" + std::to_string(k + 1);
      os.push_back(run_start(s, dirs[k], rc, run.seed + k, out));
      print_start_table(s, os.back(), static_cast<size_t>(s.eval_n) * from.lengths.size());
    }
    if (os.empty()) return 130;
    Summary summary;
    report_seeds(s, os, summary);
    const double p = os.front().before.exact_match;
    std::printf("standard error of one accuracy on %d problems: about %.1f points\n", s.eval_n * static_cast<int>(from.lengths.size()),
                100 * std::sqrt(std::max(p * (1 - p), 1e-12) / (s.eval_n * static_cast<double>(from.lengths.size()))));
    write_plots(s, os, report);
    summary.set("steps", static_cast<double>(os.front().trace.steps));
    summary.set("mu", static_cast<double>(s.mu));
    summary.set("eval_on", s.eval_on);
    summary.set("sft_exact_match", os.front().before.exact_match);
    summary.set("grpo_exact_match", os.front().after.exact_match);
    summary.set("grpo_gain_points", 100 * (os.front().after.exact_match - os.front().before.exact_match));
    summary.set("grpo_cpu_seconds", os.front().trace.cpu_seconds);
    summary.set("final_kl", os.front().trace.kl.empty() ? 0.0 : os.front().trace.kl.back());
    report.write(summary);
    std::printf("wrote %s/{accuracy,kl,clip,entropy,length,pass_at_k}.svg, summary.json, checkpoints\n", run.out.c_str());
    return interrupted() ? 130 : 0;
  });
}
