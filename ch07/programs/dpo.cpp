// ch07_dpo: Direct Preference Optimization (Rafailov et al. 2023) on pairs the SFT model makes
// itself: for each training prompt, a verified-correct sample is preferred to a wrong one. No
// sampling while training and no reward model: the policy's log-ratio to the frozen SFT model is
// an implicit reward, and the loss widens its margin between the chosen and the rejected answer.
#include <csignal>
#include <cstdio>

#include "ch06/checkpoint.hpp"
#include "ch07/dpo_learner.hpp"
#include "common/plot.hpp"
#include "common/progress.hpp"
#include "common/interrupt.hpp"
#include "common/run.hpp"
#include "common/timer.hpp"

using namespace ds;
using namespace ds::ch07;

namespace {
struct Options {
  int64_t prompts = 128, k = 4, steps = 30, batch = 16;
  int eval_n = 40;
  float lr = 5e-5f, beta = 0.1f, nll = 0.f, temperature = 0.7f;
};

// Per DPO step: the pairs' mean margin, chosen and rejected implicit rewards, % ranked right.
struct Curves {
  std::vector<double> xs, margin, chosen, rejected, acc;
  size_t pairs = 0;
};

// k samples per training prompt; a prompt with a right and a wrong answer makes a pair.
std::vector<PreferencePair> sample_pairs(ch06::DeepSeekModel& model, const TaskCodec& codec, const FromSftFlags& from, const Options& o,
                                         Rng& rng, uint64_t seed) {
  const std::vector<Problem> problems = sample_train_problems(from.task, from.lengths, static_cast<int>(o.prompts), rng);
  ch02::SamplingConfig sc;
  sc.max_new_tokens = completion_budget(codec, problems);
  sc.temperature = o.temperature;
  sc.seed = seed + 5;
  const Rollouts r = sample_rollouts(model, codec, problems, o.k, sc);
  std::vector<PreferencePair> pairs = preference_pairs(r);
  std::printf("sampled %lld completions (%.1f%% correct): %zu prompts with both a right and a wrong answer -> %zu pairs\n\n",
              (long long)r.rows(), 100 * r.mean_accuracy(), pairs.size(), pairs.size());
  if (pairs.empty()) fail("ch07_dpo", "no prompt had both a right and a wrong sample; use more --prompts or --k");
  return pairs;
}

Curves train_dpo(ch06::DeepSeekModel& model, std::vector<PreferencePair> pairs, const Options& o, Rng& rng) {
  const TrainerConfig tc = post_training_config(o.steps, o.batch, o.lr, o.lr);   // the program draws its own progress bar
  DpoOptions opt;
  opt.beta = o.beta;
  opt.nll_weight = o.nll;
  DpoLearner dpo(model, tc, opt);
  dpo.set_pairs(std::move(pairs));
  catch_interrupt();
  Progress bar(o.steps, "dpo", true);
  Curves c;
  c.pairs = dpo.pairs();
  for (int64_t s = 0; s < o.steps && !interrupted(); ++s) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < o.batch; ++i) rows.push_back(rng.randint(dpo.pairs()));
    const StepStats st = dpo.step(rows);
    c.xs.push_back(static_cast<double>(s + 1));
    c.margin.push_back(st.metrics.at("margin"));
    c.chosen.push_back(st.metrics.at("chosen_reward"));
    c.rejected.push_back(st.metrics.at("rejected_reward"));
    c.acc.push_back(100 * st.metrics.at("pair_acc"));
    bar.update(s + 1, {{"loss", st.loss}, {"margin", c.margin.back()}, {"pair_acc", st.metrics.at("pair_acc")}});
  }
  bar.finish();
  return c;
}

double last(const std::vector<double>& v) { return v.empty() ? 0.0 : v.back(); }

// The before/after table, both plots and summary.json.
void report_dpo(RunReport& report, const Curves& c, const GreedyReport& before, const GreedyReport& after, double seconds,
                const std::string& checkpoint) {
  Table t({"model", "greedy exact match (held-out)", "format ok", "mean tokens"});
  t.row({"SFT start", fmt("%.1f%%", 100 * before.exact_match), fmt("%.1f%%", 100 * before.format_rate), fmt("%.1f", before.mean_length)});
  t.row({"+ DPO, " + std::to_string(c.xs.size()) + " steps", fmt("%.1f%%", 100 * after.exact_match), fmt("%.1f%%", 100 * after.format_rate),
         fmt("%.1f", after.mean_length)});
  t.print();
  std::printf("final margin %.3f, chosen reward %.3f, rejected reward %.3f (%.0f s with the sampling)\n", last(c.margin), last(c.chosen),
              last(c.rejected), seconds);
  LineChart rw{"DPO: implicit rewards beta log(pi / pi_ref) of the pairs", "DPO step", "implicit reward (nats x beta)", {}};
  rw.series.push_back({"chosen (correct)", c.xs, c.chosen, false, 3});
  rw.series.push_back({"rejected (wrong)", c.xs, c.rejected, false, 3});
  rw.series.push_back({"margin", c.xs, c.margin, true, 3});
  rw.caption = "The margin grows mostly by pushing the rejected answer down; a falling chosen reward is the likelihood loss --nll counters.";
  report.plot("rewards.svg", rw);
  LineChart pa{"DPO: pairs ranked right by the implicit reward", "DPO step", "% of the step's pairs",
               {{"chosen reward > rejected", c.xs, c.acc, false, 3}}};
  pa.caption = "At step 1 the policy is the reference, every reward is 0 and no pair is ranked right yet; DPO ranks the training pairs "
               "within a few steps.";
  report.plot("pair_accuracy.svg", pa);
  Summary summary;
  summary.set("pairs", static_cast<double>(c.pairs));
  summary.set("sft_exact_match", before.exact_match);
  summary.set("dpo_exact_match", after.exact_match);
  summary.set("final_margin", last(c.margin));
  summary.set("final_chosen_reward", last(c.chosen));
  summary.set("final_rejected_reward", last(c.rejected));
  summary.set("seconds", seconds);
  summary.set("checkpoint", checkpoint);
  report.write(summary);
  std::printf("wrote %s/{rewards,pair_accuracy}.svg, summary.json, checkpoint/\n", report.dir().c_str());
}
}  // namespace

int main(int argc, char** argv) {
  return run_main("ch07_dpo", [&] {
    Flags flags("ch07_dpo", "DPO on (verified-correct, wrong) pairs sampled from the SFT model.");
    RunOptions run;
    add_run_flags(flags, run, "ch07_dpo");
    FromSftFlags from;
    Options o;
    from.add(flags, "operand lengths of the prompts and of the held-out set", "where to save the model (default OUT/checkpoint)");
    flags.add("--prompts", o.prompts, "training prompts sampled to build the pairs").min(1).max(100000).quick(8);
    flags.add("--k", o.k, "completions sampled per prompt (a pair needs one right and one wrong)").min(2).max(256);
    flags.add("--temperature", o.temperature, "sampling temperature of the pair data").min(0.05).max(5);
    flags.add("--steps", o.steps, "DPO optimizer steps").min(1).max(100000).quick(2);
    flags.add("--batch", o.batch, "pairs per step").min(1).max(4096).quick(4);
    flags.add("--lr", o.lr, "learning rate").min(1e-7).max(1);
    flags.add("--beta", o.beta, "DPO's beta: the inverse temperature of the implicit reward").min(1e-4).max(100);
    flags.add("--nll", o.nll, "weight of the NLL on the chosen answer (RPO; 0 = plain DPO)").min(0).max(100);
    flags.add("--eval-n", o.eval_n, "held-out test problems per length").min(1).max(2000).quick(4);
    flags.parse(argc, argv);
    RunReport report = start_run(run, flags);
    from.resolve(run.out);
    print_header("ch07_dpo: preferences from a verifier",
                 "The SFT model answers each training prompt " + std::to_string(o.k) +
                     " times; a right and a wrong answer to the same prompt make a pair. DPO raises the implicit reward of the chosen "
                     "answer over the rejected one. Watch the margin grow, and whether the chosen answer's own reward (likelihood) falls.");
    Policy start = load_policy(from.sft_dir);
    ch06::DeepSeekModel& model = *start.model;
    const std::vector<Problem> held_out = flatten(held_out_sets(from.task, from.lengths, o.eval_n));
    const GreedyReport before = greedy_eval(model, start.codec, held_out);
    Rng rng(run.seed);
    Timer timer;
    const Curves c = train_dpo(model, sample_pairs(model, start.codec, from, o, rng, run.seed), o, rng);
    const double seconds = timer.seconds();
    const GreedyReport after = greedy_eval(model, start.codec, held_out);
    save_policy(from.checkpoint, model, start.codec.tok);
    report_dpo(report, c, before, after, seconds, from.checkpoint);
    return interrupted() ? 130 : 0;
  });
}
