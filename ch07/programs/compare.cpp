// ch07_compare: every post-training method of the chapter from the same SFT start with the same
// sampling budget: GRPO, PPO, rejection-sampling fine-tuning and DPO each draw --steps x
// --prompts x --group completions of fresh training prompts graded only by the verifier; two
// controls draw none and spend GRPO's compute on SFT: more epochs of the SFT stage's finite
// labelled set (labelled_set.hpp), and answers-only SFT on RL's own prompts (what the verifier
// knows). With --seeds N, N SFT starts, each method once from each, every change as mean and
// spread. One table and one plot of held-out greedy exact match against samples drawn.
//
// RFT and DPO run online here (sample, then learn from the batch, every step) so their curves
// share GRPO's x axis; ch07_rejection_sampling and ch07_dpo show their offline rounds.
#include <cstdio>

#include "ch07/dpo_learner.hpp"
#include "ch07/ppo_learner.hpp"
#include "ch07/rl_loop.hpp"
#include "ch07/seeds.hpp"
#include "ch07/sft_control.hpp"
#include "common/interrupt.hpp"
#include "common/plot.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {

struct Result {
  std::string name, holds;
  std::vector<double> samples, em;   // the curve: samples drawn -> held-out probe exact match (%)
  GreedyReport final;
  int64_t drawn = 0, steps = 0;
  double seconds = 0;                // CPU seconds of sampling + training (probes not counted)
};

// tc with its own number of steps, batch and constant learning rate.
TrainerConfig retuned(TrainerConfig tc, int64_t steps, int64_t batch, float lr) {
  tc.steps = steps;
  tc.batch_size = batch;
  tc.lr = lr;
  tc.min_lr = lr;
  return tc;
}

// A step's samples, as every sampling method draws them: `group` completions per prompt at
// `temperature`, judged; rep gets what they show and the sampling time.
Rollouts sample_step(ch06::DeepSeekModel& m, const TaskCodec& codec, const std::vector<Problem>& p, int64_t group, float temperature,
                     uint64_t seed, RlStepReport& rep) {
  Timer t;
  Rollouts r = sample_rollouts(m, codec, p, group, rl_sampling(codec, p, temperature, seed));
  rep = sample_report(r, r.accuracy_rewards());
  rep.sample_seconds = t.seconds();
  return r;
}


struct Settings {
  // Three starts of 120 steps each keep the whole comparison, the SFT starts included, near 12 minutes on 2 cores.
  int64_t steps = 120, prompts = 16, group = 8, eval_every = 20, rs_steps = 2, rs_batch = 32, dpo_steps = 2, dpo_batch = 16, max_draws = 4;
  bool no_dynamic_sampling = false;
  int eval_n = 200, probe_n = 48, seeds = 3;
  float lr = 5e-5f, critic_lr = 1e-3f, beta = 0.04f, temperature = 0.7f, rs_lr = 3e-4f, dpo_lr = 5e-5f, dpo_beta = 0.1f, control_lr = 3e-4f,
        answers_lr = 3e-4f;
  float grpo_lr = 1e-4f, grpo_temperature = 1.f;   // ch07_grpo's defaults, chosen on the validation set
};

void add_compare_flags(Flags& flags, Settings& s) {
  flags.add("--seeds", s.seeds, "SFT starts (--quick: 1): 1 = the --sft checkpoint; N > 1 trains N starts with ch07_sft's recipe (seeds --seed .. "
                                "--seed + N - 1), runs every method from each and reports mean and spread").min(1).max(20);
  flags.add("--steps", s.steps, "steps of every sampling method; each draws --prompts x --group completions").min(1).max(100000);
  flags.add("--prompts", s.prompts, "fresh training prompts per step").min(1).max(4096);
  flags.add("--group", s.group, "completions per prompt (GRPO's G; PPO's samples; RFT's k; DPO's k)").min(2).max(256);
  flags.add("--temperature", s.temperature, "sampling temperature of every method but GRPO").min(0.05).max(5);
  flags.add("--lr", s.lr, "learning rate of the PPO policy (as ch07_ppo)").min(1e-7).max(1);
  flags.add("--grpo-temperature", s.grpo_temperature, "GRPO's sampling temperature (as ch07_grpo)").min(0.05).max(5);
  flags.add("--grpo-lr", s.grpo_lr, "GRPO's learning rate (as ch07_grpo)").min(1e-7).max(1);
  flags.add("--beta", s.beta, "GRPO's k3 KL weight").min(0).max(10);
  flags.add_flag("--no-dynamic-sampling", s.no_dynamic_sampling,
                 "GRPO without DAPO's dynamic sampling (on by default, as ch07_grpo: only groups whose rewards differ, more prompts drawn to "
                 "fill a step; GRPO then stops when it has drawn the others' --steps x --prompts x --group samples, so it takes fewer steps)");
  flags.add("--max-draws", s.max_draws, "dynamic sampling: at most this many batches of --prompts prompts per GRPO step").min(1).max(64);
  flags.add("--critic-lr", s.critic_lr, "PPO's value model learning rate").min(1e-7).max(1);
  flags.add("--rs-steps", s.rs_steps, "rejection sampling: SFT steps on each step's verified samples").min(1).max(1000);
  flags.add("--rs-batch", s.rs_batch, "rejection sampling: sequences per SFT step").min(1).max(4096);
  flags.add("--rs-lr", s.rs_lr, "rejection sampling: SFT learning rate (as ch07_rejection_sampling)").min(1e-7).max(1);
  flags.add("--dpo-steps", s.dpo_steps, "DPO: optimizer steps on each step's pairs").min(1).max(1000);
  flags.add("--dpo-batch", s.dpo_batch, "DPO: pairs per optimizer step (at most the step's pairs)").min(1).max(4096);
  flags.add("--dpo-lr", s.dpo_lr, "DPO: learning rate").min(1e-7).max(1);
  flags.add("--dpo-beta", s.dpo_beta, "DPO: beta").min(1e-4).max(100);
  flags.add("--control-lr", s.control_lr, "SFT-only control: learning rate (batch 32, as ch07_grpo's control)").min(1e-7).max(1);
  flags.add("--answers-lr", s.answers_lr, "answers-only control: learning rate (batch 32, as ch07_grpo's)").min(1e-7).max(1);
  flags.add("--eval-every", s.eval_every, "probe held-out exact match every this many steps").min(1);
  flags.add("--probe-n", s.probe_n, "held-out test problems per length of the curve's probe").min(1).max(2000);
  flags.add("--eval-n", s.eval_n, "held-out test problems per length of the final table").min(1).max(2000);
}

void make_quick(Settings& s) {
  s.seeds = 1;
  s.steps = std::min<int64_t>(s.steps, 2);
  s.prompts = std::min<int64_t>(s.prompts, 2);
  s.group = std::min<int64_t>(s.group, 4);
  s.rs_steps = 1;
  s.rs_batch = std::min<int64_t>(s.rs_batch, 4);
  s.dpo_steps = 1;
  s.eval_every = 1;
  s.probe_n = std::min(s.probe_n, 4);
  s.eval_n = std::min(s.eval_n, 4);
}

// What one start gave: the start's report and each method's result, in the order they ran.
struct StartRun {
  GreedyReport start;
  std::vector<Result> results;
  int labelled_examples = 0;
};

// Every method from the checkpoint in `dir`, seeds derived from `seed`; models saved to out/METHOD.
StartRun compare_from(const Settings& s, const std::string& dir, const FromSftFlags& from, uint64_t seed, const std::string& out) {
  const LabelledSet labelled = LabelledSet::load(dir);
  const std::vector<Problem> held_out = flatten(held_out_sets(from.task, from.lengths, s.eval_n));
  const std::vector<Problem> probe = flatten(held_out_sets(from.task, from.lengths, std::min(s.eval_n, s.probe_n)));
  const int64_t per_step = s.prompts * s.group, steps = s.steps, group = s.group;
  RlRunConfig rc;
  rc.task = from.task;
  rc.lengths = from.lengths;
  rc.steps = steps;
  rc.prompts = s.prompts;
  rc.eval_every = s.eval_every;
  rc.seed = seed;   // every method sees the same prompts in the same order
  keep_validation_apart(rc, labelled);   // as ch07_grpo, whose settings were chosen on them
  const TrainerConfig tc = post_training_config(steps, per_step, s.lr, s.lr);
  StartRun sr;
  sr.labelled_examples = labelled.long_examples;
  std::vector<Result>& results = sr.results;
  auto run_method = [&](const std::string& name, const std::string& holds, auto make_step) {
    Policy p = load_policy(dir);
    if (results.empty()) sr.start = greedy_eval(*p.model, p.codec, held_out);
    auto step = make_step(*p.model, p.codec);
    rc.label = name;
    const RlTrace tr = run_rl(step, *p.model, p.codec, probe, rc, per_step, [] { return interrupted(); });
    Result r{name, holds, tr.eval_samples, tr.eval_em, greedy_eval(*p.model, p.codec, held_out), tr.drawn, tr.steps, tr.cpu_seconds};
    std::printf("%-22s %6lld samples  held-out exact match %5.1f%%  (%.0f CPU s sampling + training)\n", name.c_str(), (long long)r.drawn,
                100 * r.final.exact_match, r.seconds);
    save_policy(out + "/" + name, *p.model, p.codec.tok);
    results.push_back(std::move(r));
  };
  // A control: GRPO's sampling + training CPU time spent on SFT batches from `draw`, run right after GRPO.
  auto run_control = [&](const std::string& name, const ProblemSource& draw, float lr, const std::string& what) {
    Policy p = load_policy(dir);
    ControlConfig cc;
    cc.seconds = results.front().seconds;
    cc.lr = lr;
    cc.seed = seed + 17;
    cc.probe_every = cc.seconds * static_cast<double>(s.eval_every) / static_cast<double>(steps);
    const ControlTrace ct = sft_control(*p.model, p.codec, draw, probe, cc, [] { return interrupted(); });
    Result r{name, "policy", {}, ct.probe_em, greedy_eval(*p.model, p.codec, held_out), 0, ct.steps, ct.seconds};
    // x: the samples GRPO had drawn after the same training time (its budget is spent evenly over its steps).
    for (double x : ct.probe_seconds) r.samples.push_back(x / std::max(cc.seconds, 1e-9) * static_cast<double>(results.front().drawn));
    std::printf("%-22s %6d samples  held-out exact match %5.1f%%  (%lld SFT steps on %s, %.0f CPU s)\n", name.c_str(), 0, 100 * r.final.exact_match,
                (long long)ct.steps, what.c_str(), ct.seconds);
    save_policy(out + "/" + name, *p.model, p.codec.tok);
    results.push_back(std::move(r));
  };

  run_method("grpo", "policy + reference", [&](ch06::DeepSeekModel& m, const TaskCodec& codec) {
    GrpoConfig gc;
    gc.prompts = s.prompts;
    gc.group = group;
    gc.temperature = s.grpo_temperature;
    gc.loss.beta = s.beta;
    gc.dynamic_sampling = !s.no_dynamic_sampling;
    gc.max_draws = s.max_draws;
    auto learner = std::make_shared<GrpoLearner>(m, codec, post_training_config(steps, per_step, s.grpo_lr, s.grpo_lr), gc);
    // The same sampling budget as every other method: with dynamic sampling a step draws more,
    // so refills stop when the budget is spent and so does the run (rc.max_samples).
    auto left = std::make_shared<int64_t>(steps * per_step);
    learner->refill = [&rc, left, group](int64_t n, uint64_t sd) {
      if (*left < n * group) return std::vector<Problem>{};
      *left -= n * group;
      Rng rng(sd);
      return draw_rl_prompts(rc, static_cast<int>(n), rng);
    };
    rc.max_samples = gc.dynamic_sampling ? steps * per_step : 0;
    return RlStepFn([learner, left, group](const std::vector<Problem>& p, uint64_t sd) {
      *left -= static_cast<int64_t>(p.size()) * group;
      return learner->step(p, sd);
    });
  });
  rc.max_samples = 0;
  if (!interrupted()) {
    const std::vector<Problem> pool = labelled.long_problems();
    run_control("sft_control", [&](int n, Rng& r) { return labelled.draw(pool, n, r); }, s.control_lr,
                std::to_string(labelled.long_examples) + " labelled long problems");
  }
  if (!interrupted()) run_control("answers_control", answers_only_source(rc), s.answers_lr, "RL's prompts with their answers");
  if (!interrupted())
    run_method("ppo", "policy + reference + critic", [&](ch06::DeepSeekModel& m, const TaskCodec& codec) {
      PpoConfig pc;
      pc.prompts = s.prompts;
      pc.samples = group;
      pc.temperature = s.temperature;
      const TrainerConfig vc = retuned(tc, tc.steps, tc.batch_size, s.critic_lr);
      Rng rng(seed + 3);
      auto learner = std::make_shared<PpoLearner>(m, codec, tc, vc, pc, rng);
      return RlStepFn([learner](const std::vector<Problem>& p, uint64_t sd) { return learner->step(p, sd); });
    });
  if (!interrupted())
    run_method("rejection_sampling", "policy", [&](ch06::DeepSeekModel& m, const TaskCodec& codec) {
      // RFT online: sample, keep each prompt's distinct verified completions, a few SFT steps on them.
      auto sft = std::make_shared<SftTrainer>(m, retuned(tc, steps * s.rs_steps, s.rs_batch, s.rs_lr));
      auto rng = std::make_shared<Rng>(seed + 5);
      return RlStepFn([sft, rng, &m, &codec, group, t = s.temperature, rs = s.rs_steps](const std::vector<Problem>& p, uint64_t sd) {
        RlStepReport rep;
        const Rollouts r = sample_step(m, codec, p, group, t, sd, rep);
        Timer tt;
        const Verified kept = verified_completions(r, false);
        if (!kept.completions.empty()) sft_on_examples(*sft, kept.prompts, kept.completions, codec.eot(), rs, *rng);
        rep.train_seconds = tt.seconds();
        return rep;
      });
    });
  if (!interrupted())
    run_method("dpo", "policy + reference", [&](ch06::DeepSeekModel& m, const TaskCodec& codec) {
      // Online DPO: each step's (right, wrong) pairs of one prompt, against the frozen SFT model.
      DpoOptions opt;
      opt.beta = s.dpo_beta;
      auto dpo = std::make_shared<DpoLearner>(m, retuned(tc, steps * s.dpo_steps, s.dpo_batch, s.dpo_lr), opt);
      auto rng = std::make_shared<Rng>(seed + 7);
      return RlStepFn([dpo, rng, &m, &codec, group, t = s.temperature, ds = s.dpo_steps, db = s.dpo_batch](const std::vector<Problem>& p, uint64_t sd) {
        RlStepReport rep;
        std::vector<PreferencePair> pairs = preference_pairs(sample_step(m, codec, p, group, t, sd, rep));
        Timer tt;
        if (!pairs.empty()) {
          dpo->set_pairs(std::move(pairs));
          for (int64_t k = 0; k < ds; ++k) {
            std::vector<int64_t> rows;
            for (int64_t i = 0; i < std::min(db, dpo->pairs()); ++i) rows.push_back(rng->randint(dpo->pairs()));
            rep.loss += dpo->step(rows).loss / static_cast<double>(ds);
          }
        }
        rep.train_seconds = tt.seconds();
        return rep;
      });
    });
  return sr;
}

bool is_control(const std::string& name) { return name == "sft_control" || name == "answers_control"; }

void print_start_table(const StartRun& sr) {
  Table t({"method", "models held", "samples drawn", "optimizer steps", "held-out greedy exact match", "change", "format ok", "CPU s (sampling + training)"});
  t.row({"SFT start", "", "", "", fmt("%.1f%%", 100 * sr.start.exact_match), "", fmt("%.1f%%", 100 * sr.start.format_rate), ""});
  for (const Result& r : sr.results)
    t.row({r.name, r.holds, std::to_string(r.drawn), std::to_string(r.steps), fmt("%.1f%%", 100 * r.final.exact_match),
           fmt("%+.1f", 100 * (r.final.exact_match - sr.start.exact_match)), fmt("%.1f%%", 100 * r.final.format_rate), fmt("%.0f", r.seconds)});
  std::printf("\n");
  t.print();
  std::printf("\n");
}

// Over the starts: each method's change in points, mean ± sd (min to max), and how often it beat both controls.
void report_seeds(const std::vector<StartRun>& runs, Summary& summary) {
  Table t({"method (" + std::to_string(runs.size()) + " start(s))", "change in held-out exact match, points", "starts where it beats both controls"});
  for (size_t m = 0; m < runs.front().results.size(); ++m) {
    const std::string& name = runs.front().results[m].name;
    std::vector<double> change;
    int wins = 0, counted = 0;
    for (const StartRun& sr : runs) {
      if (m >= sr.results.size()) continue;
      change.push_back(100 * (sr.results[m].final.exact_match - sr.start.exact_match));
      double best_control = -1;
      for (const Result& r : sr.results)
        if (is_control(r.name)) best_control = std::max(best_control, r.final.exact_match);
      ++counted;
      wins += sr.results[m].final.exact_match > best_control;
    }
    const Spread sp = spread_of(change);
    t.row({name, spread_text(sp, "%+.1f"), is_control(name) ? "" : fmt("%d of %d", wins, counted)});
    summary.set(name + ".change_points_mean", sp.mean);
    summary.set(name + ".change_points_sd", sp.sd);
    if (!is_control(name)) summary.set(name + ".starts_above_controls", static_cast<double>(wins));
  }
  t.print();
}

void write_compare_plot(const StartRun& sr, const std::string& lengths, const std::string& out) {
  LineChart c{"Held-out greedy exact match against samples drawn, from the first SFT start", "completions sampled (controls: GRPO's at equal CPU time)",
              "greedy exact match on held-out " + lengths + "-digit problems (%)", {}};
  for (const Result& r : sr.results) c.series.push_back({r.name, r.samples, r.em, is_control(r.name)});
  c.caption =
      "Every method starts at the SFT model's accuracy; the dashed controls spend GRPO's compute on SFT (the labelled set; RL's prompts with answers only).";
  write_line_chart(out + "/compare.svg", c);
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_compare", [&] {
    Flags flags("ch07_compare", "GRPO, PPO, rejection sampling, DPO and two SFT controls from the same SFT starts at one sampling budget.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_compare");
    FromSftFlags from;
    Settings s;
    from.add(flags, "operand lengths of the training prompts and of the held-out set (ch07_sft's --long)",
             "unused by this program (each method's model goes to OUT/METHOD/ or OUT/start-K/METHOD/)");
    add_compare_flags(flags, s);
    flags.parse(argc, argv);
    if (run.quick) make_quick(s);
    RunReport report = start_run(run, flags);
    from.resolve(run.out);
    print_header("ch07_compare: one SFT start, one sampling budget, every method",
                 "Each method starts from the SFT checkpoint and draws " + std::to_string(s.steps * s.prompts * s.group) +
                     " completions of fresh prompts that only the verifier grades; the two SFT controls instead train GRPO's compute "
                     "on the labelled set or on RL's prompts with their answers. Watch held-out greedy exact match against samples drawn.");
    Timer wall;
    catch_interrupt();
    const std::vector<std::string> dirs = sft_start_dirs(from, s.seeds, run.seed, run.out, run.quick, [] { return interrupted(); });
    std::vector<StartRun> runs;
    for (size_t k = 0; k < dirs.size() && !interrupted(); ++k) {
      const std::string out = dirs.size() == 1 ? run.out : run.out + "/start-" + std::to_string(k + 1);
      runs.push_back(compare_from(s, dirs[k], from, run.seed + k, out));
      print_start_table(runs.back());
    }
    if (runs.empty() || runs.front().results.empty()) return 130;
    Summary summary;
    report_seeds(runs, summary);
    std::printf("held-out set: %d test problems per length %s; the SFT-only control trained on %d labelled long problems per length; %.0f s wall in all\n",
                s.eval_n, from.lengths_text.c_str(), runs.front().labelled_examples, wall.seconds());
    write_compare_plot(runs.front(), from.lengths_text, run.out);
    const StartRun& first = runs.front();
    summary.set("seeds", static_cast<double>(runs.size()));
    summary.set("sft_exact_match", first.start.exact_match);
    summary.set("samples_per_method", static_cast<double>(s.steps * s.prompts * s.group));
    summary.set("labelled_long_examples", static_cast<double>(first.labelled_examples));
    for (const Result& r : first.results) {
      summary.set(r.name + ".exact_match", r.final.exact_match);
      summary.set(r.name + ".samples", static_cast<double>(r.drawn));
      summary.set(r.name + ".steps", static_cast<double>(r.steps));
      summary.set(r.name + ".cpu_seconds", r.seconds);
    }
    summary.set("wall_seconds", wall.seconds());
    report.write(summary);
    std::printf("wrote %s/compare.svg, compare.csv, summary.json, and each method's model in METHOD/ folders\n", run.out.c_str());
    return interrupted() ? 130 : 0;
  });
}
