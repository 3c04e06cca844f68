// ch07_compare: every post-training method of the chapter from the same SFT checkpoint with the
// same sampling budget (issue 18, point 9): GRPO, PPO, rejection-sampling fine-tuning and DPO
// each draw --steps x --prompts x --group completions of fresh training prompts graded only by
// the verifier; the SFT-only control draws none and spends GRPO's compute on more epochs of the
// SFT stage's finite labelled set (labelled_set.hpp). One table and one plot of held-out greedy
// exact match against samples drawn.
//
// RFT and DPO run online here (sample, then learn from the batch, every step) so their curves
// share GRPO's x axis; ch07_rejection_sampling and ch07_dpo show their offline rounds.
#include <cstdio>

#include "ch07/dpo_learner.hpp"
#include "ch07/ppo_learner.hpp"
#include "ch07/rl_loop.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_compare", [&] {
    Flags flags("ch07_compare", "GRPO, PPO, rejection sampling, DPO and an SFT-only control from one SFT checkpoint at one sampling budget.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_compare");
    ch07::FromSftFlags from;
    int64_t steps = 200, prompts = 16, group = 8, eval_every = 20, rs_steps = 2, rs_batch = 32, dpo_steps = 2, dpo_batch = 16, max_draws = 4;
    bool no_dynamic_sampling = false;
    int eval_n = 200, probe_n = 48;
    float lr = 5e-5f, critic_lr = 1e-3f, beta = 0.04f, temperature = 0.7f, rs_lr = 3e-4f, dpo_lr = 5e-5f, dpo_beta = 0.1f, control_lr = 3e-4f;
    float grpo_lr = 1e-4f, grpo_temperature = 1.f;   // ch07_grpo's defaults, chosen on the validation set
    from.add(flags, "operand lengths of the training prompts and of the held-out set (ch07_sft's --long)",
             "unused by this program (each method's model goes to OUT/METHOD/)");
    flags.add("--steps", steps, "steps of every sampling method; each draws --prompts x --group completions").min(1).max(100000);
    flags.add("--prompts", prompts, "fresh training prompts per step").min(1).max(4096);
    flags.add("--group", group, "completions per prompt (GRPO's G; PPO's samples; RFT's k; DPO's k)").min(2).max(256);
    flags.add("--temperature", temperature, "sampling temperature of every method but GRPO").min(0.05).max(5);
    flags.add("--lr", lr, "learning rate of the PPO policy (as ch07_ppo)").min(1e-7).max(1);
    flags.add("--grpo-temperature", grpo_temperature, "GRPO's sampling temperature (as ch07_grpo)").min(0.05).max(5);
    flags.add("--grpo-lr", grpo_lr, "GRPO's learning rate (as ch07_grpo)").min(1e-7).max(1);
    flags.add("--beta", beta, "GRPO's k3 KL weight").min(0).max(10);
    flags.add_flag("--no-dynamic-sampling", no_dynamic_sampling,
                   "GRPO without DAPO's dynamic sampling (on by default, as ch07_grpo: only groups whose rewards differ, more prompts drawn to "
                   "fill a step; GRPO then stops when it has drawn the others' --steps x --prompts x --group samples, so it takes fewer steps)");
    flags.add("--max-draws", max_draws, "dynamic sampling: at most this many batches of --prompts prompts per GRPO step").min(1).max(64);
    flags.add("--critic-lr", critic_lr, "PPO's value model learning rate").min(1e-7).max(1);
    flags.add("--rs-steps", rs_steps, "rejection sampling: SFT steps on each step's verified samples").min(1).max(1000);
    flags.add("--rs-batch", rs_batch, "rejection sampling: sequences per SFT step").min(1).max(4096);
    flags.add("--rs-lr", rs_lr, "rejection sampling: SFT learning rate (as ch07_rejection_sampling)").min(1e-7).max(1);
    flags.add("--dpo-steps", dpo_steps, "DPO: optimizer steps on each step's pairs").min(1).max(1000);
    flags.add("--dpo-batch", dpo_batch, "DPO: pairs per optimizer step (at most the step's pairs)").min(1).max(4096);
    flags.add("--dpo-lr", dpo_lr, "DPO: learning rate").min(1e-7).max(1);
    flags.add("--dpo-beta", dpo_beta, "DPO: beta").min(1e-4).max(100);
    flags.add("--control-lr", control_lr, "SFT-only control: learning rate (batch 32, as ch07_grpo's control)").min(1e-7).max(1);
    flags.add("--eval-every", eval_every, "probe held-out exact match every this many steps").min(1);
    flags.add("--probe-n", probe_n, "held-out test problems per length of the curve's probe").min(1).max(2000);
    flags.add("--eval-n", eval_n, "held-out test problems per length of the final table").min(1).max(2000);
    flags.parse(argc, argv);
    const bool dynamic_sampling = !no_dynamic_sampling;
    if (run.quick) {
      steps = std::min<int64_t>(steps, 2);
      prompts = std::min<int64_t>(prompts, 2);
      group = std::min<int64_t>(group, 4);
      rs_steps = 1;
      rs_batch = std::min<int64_t>(rs_batch, 4);
      dpo_steps = 1;
      eval_every = 1;
      probe_n = std::min(probe_n, 4);
      eval_n = std::min(eval_n, 4);
    }
    RunReport report = start_run(run, flags);
    from.resolve(run.out);
    const Task task = from.task;
    const std::vector<int>& lengths = from.lengths;
    const int64_t per_step = prompts * group;
    print_header("ch07_compare: one SFT start, one sampling budget, every method",
                 "Each method starts from the SFT checkpoint and draws " + std::to_string(steps * per_step) +
                     " completions of fresh prompts that only the verifier grades; the SFT-only control instead trains GRPO's compute "
                     "on the SFT stage's finite labelled set. Watch held-out greedy exact match against samples drawn.");
    const LabelledSet labelled = LabelledSet::load(from.sft_dir);
    Timer wall;
    const std::vector<Problem> held_out = flatten(held_out_sets(task, lengths, eval_n));
    const std::vector<Problem> probe = flatten(held_out_sets(task, lengths, std::min(eval_n, probe_n)));
    catch_interrupt();

    RlRunConfig rc;
    rc.task = task;
    rc.lengths = lengths;
    rc.steps = steps;
    rc.prompts = prompts;
    rc.eval_every = eval_every;
    rc.seed = run.seed;   // every method sees the same prompts in the same order
    keep_validation_apart(rc, labelled);   // as ch07_grpo, whose settings were chosen on them
    const TrainerConfig tc = post_training_config(steps, per_step, lr, lr);

    std::vector<Result> results;
    GreedyReport start_report;
    auto run_method = [&](const std::string& name, const std::string& holds, auto make_step) {
      Policy p = load_policy(from.sft_dir);
      if (results.empty()) start_report = greedy_eval(*p.model, p.codec, held_out);
      auto step = make_step(*p.model, p.codec);
      rc.label = name;
      const RlTrace tr = run_rl(step, *p.model, p.codec, probe, rc, per_step, [] { return interrupted(); });
      Result r{name, holds, tr.eval_samples, tr.eval_em, greedy_eval(*p.model, p.codec, held_out), tr.drawn, tr.steps, tr.cpu_seconds};
      std::printf("%-22s %6lld samples  held-out exact match %5.1f%%  (%.0f CPU s sampling + training)\n", name.c_str(), (long long)r.drawn,
                  100 * r.final.exact_match, r.seconds);
      save_policy(run.out + "/" + name, *p.model, p.codec.tok);
      results.push_back(std::move(r));
    };

    run_method("grpo", "policy + reference", [&](ch06::DeepSeekModel& m, const TaskCodec& codec) {
      GrpoConfig gc;
      gc.prompts = prompts;
      gc.group = group;
      gc.temperature = grpo_temperature;
      gc.loss.beta = beta;
      gc.dynamic_sampling = dynamic_sampling;
      gc.max_draws = max_draws;
      auto learner = std::make_shared<GrpoLearner>(m, codec, post_training_config(steps, per_step, grpo_lr, grpo_lr), gc);
      // The same sampling budget as every other method: with dynamic sampling a step draws more,
      // so refills stop when the budget is spent and so does the run (rc.max_samples).
      auto left = std::make_shared<int64_t>(steps * per_step);
      learner->refill = [&rc, left, group](int64_t n, uint64_t seed) {
        if (*left < n * group) return std::vector<Problem>{};
        *left -= n * group;
        Rng rng(seed);
        return draw_rl_prompts(rc, static_cast<int>(n), rng);
      };
      rc.max_samples = dynamic_sampling ? steps * per_step : 0;
      return RlStepFn([learner, left, group](const std::vector<Problem>& p, uint64_t seed) {
        *left -= static_cast<int64_t>(p.size()) * group;
        return learner->step(p, seed);
      });
    });
    rc.max_samples = 0;
    // The control: GRPO's sampling + training CPU time, spent on SFT over the labelled set.
    // Run right after GRPO, whose compute it matches.
    if (!interrupted()) {
      Policy p = load_policy(from.sft_dir);
      ControlConfig cc;
      cc.seconds = results.front().seconds;
      cc.lr = control_lr;
      cc.seed = run.seed + 17;
      cc.probe_every = cc.seconds * static_cast<double>(eval_every) / static_cast<double>(steps);
      const ControlTrace ct = sft_control(*p.model, p.codec, labelled, probe, cc, [] { return interrupted(); });
      Result r{"sft_control", "policy", {}, ct.probe_em, greedy_eval(*p.model, p.codec, held_out), 0, ct.steps, ct.seconds};
      // x: the samples GRPO had drawn after the same training time (its budget is spent evenly over its steps).
      for (double s : ct.probe_seconds) r.samples.push_back(s / std::max(cc.seconds, 1e-9) * static_cast<double>(results.front().drawn));
      std::printf("%-22s %6d samples  held-out exact match %5.1f%%  (%lld SFT steps on %d labelled long problems, %.0f CPU s)\n", "sft_control", 0,
                  100 * r.final.exact_match, (long long)ct.steps, labelled.long_examples, ct.seconds);
      save_policy(run.out + "/sft_control", *p.model, p.codec.tok);
      results.push_back(std::move(r));
    }

    if (!interrupted())
      run_method("ppo", "policy + reference + critic", [&](ch06::DeepSeekModel& m, const TaskCodec& codec) {
        PpoConfig pc;
        pc.prompts = prompts;
        pc.samples = group;
        pc.temperature = temperature;
        const TrainerConfig vc = retuned(tc, tc.steps, tc.batch_size, critic_lr);
        Rng rng(run.seed + 3);
        auto learner = std::make_shared<PpoLearner>(m, codec, tc, vc, pc, rng);
        return RlStepFn([learner](const std::vector<Problem>& p, uint64_t seed) { return learner->step(p, seed); });
      });
    if (!interrupted())
      run_method("rejection_sampling", "policy", [&](ch06::DeepSeekModel& m, const TaskCodec& codec) {
        // RFT online: sample, keep each prompt's distinct verified completions, a few SFT steps on them.
        auto sft = std::make_shared<SftTrainer>(m, retuned(tc, steps * rs_steps, rs_batch, rs_lr));
        auto rng = std::make_shared<Rng>(run.seed + 5);
        return RlStepFn([sft, rng, &m, &codec, group, temperature, rs_steps](const std::vector<Problem>& p, uint64_t seed) {
          RlStepReport rep;
          const Rollouts r = sample_step(m, codec, p, group, temperature, seed, rep);
          Timer tt;
          const Verified kept = verified_completions(r, false);
          if (!kept.completions.empty()) sft_on_examples(*sft, kept.prompts, kept.completions, codec.eot(), rs_steps, *rng);
          rep.train_seconds = tt.seconds();
          return rep;
        });
      });
    if (!interrupted())
      run_method("dpo", "policy + reference", [&](ch06::DeepSeekModel& m, const TaskCodec& codec) {
        // Online DPO: each step's (right, wrong) pairs of one prompt, against the frozen SFT model.
        DpoOptions opt;
        opt.beta = dpo_beta;
        auto dpo = std::make_shared<DpoLearner>(m, retuned(tc, steps * dpo_steps, dpo_batch, dpo_lr), opt);
        auto rng = std::make_shared<Rng>(run.seed + 7);
        return RlStepFn([dpo, rng, &m, &codec, group, temperature, dpo_steps, dpo_batch](const std::vector<Problem>& p, uint64_t seed) {
          RlStepReport rep;
          std::vector<PreferencePair> pairs = preference_pairs(sample_step(m, codec, p, group, temperature, seed, rep));
          Timer tt;
          if (!pairs.empty()) {
            dpo->set_pairs(std::move(pairs));
            for (int64_t s = 0; s < dpo_steps; ++s) {
              std::vector<int64_t> rows;
              for (int64_t i = 0; i < std::min(dpo_batch, dpo->pairs()); ++i) rows.push_back(rng->randint(dpo->pairs()));
              const StepStats st = dpo->step(rows);
              rep.loss += st.loss / static_cast<double>(dpo_steps);
            }
          }
          rep.train_seconds = tt.seconds();
          return rep;
        });
      });

    Table t({"method", "models held", "samples drawn", "optimizer steps", "held-out greedy exact match", "change", "format ok",
             "CPU time (sampling + training)"});
    t.row({"SFT start", "", "", "", fmt("%.1f%%", 100 * start_report.exact_match), "", fmt("%.1f%%", 100 * start_report.format_rate), ""});
    for (const Result& r : results)
      t.row({r.name, r.holds, std::to_string(r.drawn), std::to_string(r.steps), fmt("%.1f%%", 100 * r.final.exact_match),
             fmt("%+.1f", 100 * (r.final.exact_match - start_report.exact_match)), fmt("%.1f%%", 100 * r.final.format_rate),
             fmt("%.0f s", r.seconds)});
    std::printf("\n");
    t.print();
    std::printf("held-out set: %zu test problems of lengths %s; the SFT-only control trained on %d labelled long problems per length; "
                "%.0f s wall in all\n", held_out.size(), from.lengths_text.c_str(), labelled.long_examples, wall.seconds());

    LineChart c{"Held-out greedy exact match against samples drawn, from one SFT start", "completions sampled (control: GRPO's at equal CPU time)",
                "greedy exact match on held-out " + from.lengths_text + "-digit problems (%)", {}};
    for (const Result& r : results) c.series.push_back({r.name, r.samples, r.em, r.name == "sft_control"});
    c.caption = "Every method starts at the SFT model's accuracy; the dashed control spends GRPO's compute on the finite labelled set instead of sampling.";
    report.plot("compare.svg", c);

    Summary summary;
    summary.set("sft_exact_match", start_report.exact_match);
    summary.set("samples_per_method", static_cast<double>(steps * per_step));
    summary.set("labelled_long_examples", static_cast<double>(labelled.long_examples));
    for (const Result& r : results) {
      summary.set(r.name + ".exact_match", r.final.exact_match);
      summary.set(r.name + ".samples", static_cast<double>(r.drawn));
      summary.set(r.name + ".steps", static_cast<double>(r.steps));
      summary.set(r.name + ".cpu_seconds", r.seconds);
    }
    summary.set("wall_seconds", wall.seconds());
    report.write(summary);
    std::printf("wrote %s/compare.svg, compare.csv, summary.json, and each method's model in %s/METHOD/\n", run.out.c_str(), run.out.c_str());
    return interrupted() ? 130 : 0;
  });
}
